"""``bowclf fit --dask-scheduler``: the CLI trains on a real 2-worker LocalCluster."""

from __future__ import annotations

import zipfile

import pytest
from click.testing import CliRunner

from bowclf import load
from bowclf.cli import cli

distributed = pytest.importorskip("dask.distributed")


def test_fit_on_a_dask_scheduler(tmp_path):
    corpus = tmp_path / "train.csv"
    rows = ["label,text"]
    for i in range(300):
        rows.append(f"sport,the team won the match {i % 7}")
        rows.append(f"tech,the laptop software crashed again {i % 5}")
    corpus.write_text("\n".join(rows) + "\n", encoding="utf-8")
    model_path = tmp_path / "m.bowclf"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        result = CliRunner().invoke(
            cli,
            [
                "fit",
                str(corpus),
                "-o",
                str(model_path),
                "--dask-scheduler",
                cluster.scheduler_address,
                "--seed",
                "0",
            ],
        )
        assert result.exit_code == 0, result.output
        piped = tmp_path / "piped.bowclf"
        result = CliRunner().invoke(
            cli,
            ["fit", "-", "-o", str(piped), "--dask-scheduler", cluster.scheduler_address,
             "--seed", "0"],
            input=corpus.read_text(encoding="utf-8"),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    model = load(model_path)
    assert list(model.predict(["the match was won", "software crashed"])) == ["sport", "tech"]
    # standard input (read once) trains the same model; the header differs in timings only
    with zipfile.ZipFile(model_path) as a, zipfile.ZipFile(piped) as b:
        names = [n for n in a.namelist() if n != "header.json"]
        assert names and names == [n for n in b.namelist() if n != "header.json"]
        assert all(a.read(n) == b.read(n) for n in names)


def test_unreachable_scheduler_is_a_one_line_error(tmp_path):
    corpus = tmp_path / "train.csv"
    corpus.write_text("label,text\na,x y\nb,z w\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["fit", str(corpus), "--dask-scheduler", "tcp://127.0.0.1:9", "-q"],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output


def test_an_unreachable_scheduler_fails_fast(tmp_path):
    """Issue 20 item 15: one line and exit 1 within seconds, not distributed's 30 s retries;
    an existing model file is kept."""
    import time
    from pathlib import Path

    corpus = Path(__file__).resolve().parents[1] / "data" / "tickets_train.csv"
    out = tmp_path / "m.bowclf"
    out.write_bytes(b"old")
    started = time.perf_counter()
    result = CliRunner().invoke(
        cli, ["fit", str(corpus), "-o", str(out), "--dask-scheduler", "tcp://127.0.0.1:1", "-q"]
    )
    assert result.exit_code == 1
    assert "cannot use the Dask scheduler at tcp://127.0.0.1:1" in result.output
    assert "Traceback" not in result.output
    assert time.perf_counter() - started < 20
    assert out.read_bytes() == b"old"
