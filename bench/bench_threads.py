"""Whole-process ``bowclf fit``/``bowclf predict`` against fastText (thread=2), with threads.

    python bench/bench_threads.py [--corpora imdb synth10M] [--threads 1 2]
                                  [--no-defaults] [--no-predict] [--out bench/out/threads.md]
    python bench/bench_threads.py epochs [--corpora imdb synth10M] [--optimizers sgd adaptive]
    python bench/bench_threads.py kernels

Every measurement is a child process (``bench.subproc.run_child``: wall seconds and the
child's own peak RSS from ``os.wait4``), one after the other:

* ``bowclf fit TRAIN.csv -o MODEL --quiet --seed 0 --threads N`` with fastText's
  hyper-parameters (``FT_SAME``: ``--epochs 5 --lr 0.1 --optimizer sgd --ngrams 2 --no-idf
  --no-sublinear-tf --min-df 1 --normalize l1 …``, dim 100) for every ``N`` of
  ``--threads``, and on imdb also with bowclf's own defaults; run as ``python -m bowclf.cli``
  with this checkout on ``PYTHONPATH`` (the installed ``bowclf`` script may point elsewhere);
* fastText: a child process that imports ``fasttext``, calls ``train_supervised`` (dim 100,
  epoch 5, lr 0.1, wordNgrams 2, thread 2, seed 0) and saves the model — the equivalent of
  ``fasttext supervised``; its training call is timed separately too;
* accuracy: ``bowclf evaluate MODEL TEST.csv --json`` and fastText's ``model.test`` (not timed);
* predict (imdb): ``bowclf predict MODEL TEST.csv`` (25k reviews) against a fastText child
  that loads its model and predicts every test line, both whole processes: documents/s.

``epochs``: one training pass (``sgd_pass``, batch 32, d = 100) over a prepared corpus on one
thread and on two, interleaved ``--repeats`` times, wall and CPU seconds (best and median);
checks that both train the same parameters.

``kernels``: scipy's ``csr_matvecs`` (the hidden-vector kernel) on a random 4000×2M matrix
with 460 non-zeros a row and a 2M×100 float32 ``W``, five products twice on one thread and
then once each on two threads: whether two threads get twice the throughput right now.

Ratios > 1 mean bowclf is faster (speed = fastText's wall ÷ bowclf's).  Corpora: imdb from the
shared datasets (fastText files prepared by ``bench/prep.py`` into ``bench/out/data``) and the
synthetic corpora of ``bench/scaling.py`` (``synth10M``, ``synth100M``: 20 classes, 100k
words; generated once into ``bench/out/synth``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import REPO, dataset_path  # noqa: E402
from bench.subproc import run_child  # noqa: E402
from bench.systems import BOWCLF_FT_PARAMS, cli_flags  # noqa: E402

#: ``bowclf fit`` flags of fastText's hyper-parameters: every setting of
#: :data:`bench.systems.BOWCLF_FT_PARAMS` (raw counts: ``--no-idf --no-sublinear-tf --min-df 1
#: --normalize l1 …``), so that no 'auto' rule changes the model on long documents.
FT_SAME = cli_flags(BOWCLF_FT_PARAMS)
FT_PARAMS = {"dim": 100, "epoch": 5, "lr": 0.1, "wordNgrams": 2, "thread": 2, "seed": 0}
TIMEOUT = 3600.0

_FT_FIT = """
import json, sys, time
t0 = time.perf_counter()
import fasttext
t1 = time.perf_counter()
model = fasttext.train_supervised(input=sys.argv[1], verbose=0, **json.loads(sys.argv[3]))
t2 = time.perf_counter()
model.save_model(sys.argv[2])
n, p1, _ = model.test(sys.argv[4])
print(json.dumps({"import_s": t1 - t0, "train_s": t2 - t1, "accuracy": p1}))
"""

_FT_PREDICT = """
import sys, time
import fasttext
model = fasttext.load_model(sys.argv[1])
with open(sys.argv[2], encoding="utf-8") as f:
    lines = [line.split(" ", 1)[1].rstrip("\\n") if line.startswith("__label__") else line
             for line in f]
labels, _ = model.predict(lines, k=1)
with open(sys.argv[3], "w") as out:
    out.writelines(row[0] + "\\n" for row in labels)
"""


def _env(code: str | Path | None = None) -> dict[str, str]:
    """The children's environment: bowclf imported from ``code`` (default: this checkout)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(code or REPO)
    return env


def _bowclf(*args: str) -> list[str]:
    return [sys.executable, "-m", "bowclf.cli", *args]


def _corpus(name: str) -> dict[str, Any]:
    if name == "imdb":
        from bench.prep import _build_pair

        out = REPO / "bench" / "out" / "data" / "imdb"
        meta = out / "pair.json"
        if not meta.exists():
            pair = _build_pair(
                "imdb", dataset_path("imdb", "train"), dataset_path("imdb", "test"), out, False
            )
            meta.write_text(json.dumps(pair))
        return json.loads(meta.read_text())
    if name.startswith("synth"):
        from bench.scaling import Point, corpus_pair, parse_tokens

        return corpus_pair(Point(parse_tokens(name[len("synth") :]), 20, 100, 100_000))
    raise SystemExit(f"unknown corpus {name!r}")


def _bowclf_fit(pair, flags, workdir: Path, tag: str, code: str | None = None) -> dict[str, Any]:
    model = workdir / f"{tag}.bowclf"
    fit = run_child(
        _bowclf("fit", pair["train_csv"], "-o", str(model), "--quiet", "--seed", "0", *flags),
        TIMEOUT,
        env=_env(code),
        cwd=str(code or REPO),  # `python -m` imports from the working directory first
    )
    if fit.returncode != 0:
        return {"error": fit.error_line()}
    ev = run_child(
        _bowclf("evaluate", str(model), pair["test_csv"], "--json"),
        TIMEOUT,
        env=_env(code),
        cwd=str(code or REPO),  # `python -m` imports from the working directory first
    )
    acc = json.loads(ev.stdout).get("accuracy") if ev.returncode == 0 else None
    return {"wall_s": fit.wall_s, "rss_mb": fit.maxrss_mb, "accuracy": acc, "model": str(model)}


def _fasttext_fit(pair, workdir: Path) -> dict[str, Any]:
    model = workdir / "ft.bin"
    res = run_child(
        [
            sys.executable,
            "-c",
            _FT_FIT,
            pair["train_ft"],
            str(model),
            json.dumps(FT_PARAMS),
            pair["test_ft"],
        ],
        TIMEOUT,
        env=_env(),
    )
    if res.returncode != 0:
        return {"error": res.error_line()}
    info = json.loads(res.stdout.strip().splitlines()[-1])
    return {"wall_s": res.wall_s, "rss_mb": res.maxrss_mb, "model": str(model), **info}


def _predict_rows(pair, bow_model: str, ft_model: str, workdir: Path) -> list[str]:
    n = sum(1 for _ in open(pair["test_ft"], encoding="utf-8"))
    bow = run_child(
        _bowclf("predict", bow_model, pair["test_csv"], "-o", str(workdir / "pred.txt")),
        TIMEOUT,
        env=_env(),
        cwd=str(REPO),
    )
    ft = run_child(
        [
            sys.executable,
            "-c",
            _FT_PREDICT,
            ft_model,
            pair["test_ft"],
            str(workdir / "ft_pred.txt"),
        ],
        TIMEOUT,
        env=_env(),
    )
    if bow.returncode != 0 or ft.returncode != 0:
        return [f"| predict | failed: {(bow if bow.returncode else ft).error_line()} |"]
    return [
        f"| bowclf predict ({n:,} docs) | {bow.wall_s:.2f} | {n / bow.wall_s:,.0f} | "
        f"{bow.maxrss_mb:,.0f} | {ft.wall_s / bow.wall_s:.2f}× |",
        f"| fastText load + predict | {ft.wall_s:.2f} | {n / ft.wall_s:,.0f} | "
        f"{ft.maxrss_mb:,.0f} | |",
    ]


def epochs(argv: list[str]) -> int:
    """Seconds per epoch (``sgd_pass`` over a prepared corpus), 1 and 2 threads interleaved."""
    import statistics

    import numpy as np
    import scipy.sparse as sp

    from bench.common import load_dataset
    from bowclf import BowVectorizer
    from bowclf.corpus import read_corpus
    from bowclf.losses import get_loss
    from bowclf.optim import get_optimizer
    from bowclf.parallel import kernel_threads
    from bowclf.training import initial_parameters, prepare_counts, sgd_pass

    parser = argparse.ArgumentParser(prog="bench_threads.py epochs")
    parser.add_argument("--corpora", nargs="+", default=["imdb", "synth10M"])
    parser.add_argument("--optimizers", nargs="+", default=["sgd", "adaptive"])
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args(argv)
    print("| corpus | optimizer | threads | wall s best | wall s median | CPU s median |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name in args.corpora:
        if name.startswith("synth"):
            corpus = read_corpus(_corpus(name)["train_csv"])
            texts, labels = corpus.texts, [labs[0] for labs in corpus.labels]
        else:
            texts, labels = load_dataset(name, "train")
        X = prepare_counts(BowVectorizer(ngrams=2).fit_transform(texts), "l1")
        classes, y = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)
        loss = get_loss("softmax")
        ones = np.ones(y.size, np.float32)
        Y = loss.prepare_targets(
            sp.csr_array((ones, y, np.arange(y.size + 1)), shape=(y.size, classes.size)), False
        )
        for opt in args.optimizers:
            wall: dict[int, list[float]] = {1: [], 2: []}
            cpu: dict[int, list[float]] = {1: [], 2: []}
            digests = set()
            for _ in range(args.repeats):
                for n_jobs in (1, 2):
                    rng = np.random.default_rng(0)
                    W, B = initial_parameters(X.shape[1], 100, (classes.size, 100), rng)
                    optimizer = get_optimizer(opt)
                    optimizer.start(W, B)
                    with kernel_threads(n_jobs):
                        t, c = time.perf_counter(), time.process_time()
                        sgd_pass(W, B, X, Y, ones, loss=loss, batch_size=32,
                                 lr_at=lambda i: 0.1, optimizer=optimizer)  # fmt: skip
                        wall[n_jobs].append(time.perf_counter() - t)
                        cpu[n_jobs].append(time.process_time() - c)
                    digests.add(hash(W.tobytes()) ^ hash(B.tobytes()))
            assert len(digests) == 1, "1 and 2 threads trained different parameters"
            for n_jobs in (1, 2):
                med_wall, med_cpu = statistics.median(wall[n_jobs]), statistics.median(cpu[n_jobs])
                print(
                    f"| {name} | {opt} | {n_jobs} | {min(wall[n_jobs]):.2f} | {med_wall:.2f} "
                    f"| {med_cpu:.2f} |",
                    flush=True,
                )
    print(f"(load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


def kernels() -> int:
    """Throughput of scipy's sparse×dense kernel on one thread and on two (module docstring)."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import scipy.sparse as sp
    from scipy.sparse import _sparsetools

    p, d, n = 2_000_000, 100, 4000
    rng = np.random.default_rng(0)
    W = rng.random((p, d), dtype=np.float32)
    X = sp.random_array((n, p), density=460 / p, format="csr", dtype=np.float32, rng=rng)
    indptr, indices = X.indptr.astype(np.int32), X.indices.astype(np.int32)

    def job(_):
        H = np.zeros((n, d), np.float32)
        for _ in range(5):
            _sparsetools.csr_matvecs(n, p, d, indptr, indices, X.data, W.ravel(), H.ravel())

    with ThreadPoolExecutor(2) as pool:
        for _ in range(2):
            t = time.perf_counter()
            job(0)
            job(1)
            one = time.perf_counter() - t
            t = time.perf_counter()
            list(pool.map(job, range(2)))
            two = time.perf_counter() - t
            print(
                f"one thread {one:.2f} s, two threads {two:.2f} s: {one / two:.2f}x "
                f"(load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["epochs"]:
        return epochs(argv[1:])
    if argv[:1] == ["kernels"]:
        return kernels()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", default=["imdb", "synth10M"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--no-defaults", action="store_true", help="skip bowclf defaults")
    parser.add_argument("--no-predict", action="store_true")
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "threads.md"))
    parser.add_argument(
        "--stream", action="store_true", help="bowclf fits out of core (`bowclf fit --stream`)"
    )
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="also run every bowclf fit with the bowclf of DIR (an older checkout, e.g. "
        "`git archive REV | tar -x -C DIR`), interleaved: before/after in one run",
    )
    args = parser.parse_args(argv)
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average at start "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
        "",
        "| corpus | system | wall s (whole process) | peak RSS MB | accuracy % "
        "| speed ÷ fastText 2t | RSS ÷ fastText |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    predict: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-threads-") as tmp:
        workdir = Path(tmp)
        for name in args.corpora:
            pair = _corpus(name)
            print(f"[{name}] fastText", file=sys.stderr, flush=True)
            ft = _fasttext_fit(pair, workdir)
            if "error" in ft:
                lines.append(f"| {name} | fastText thread=2 | failed: {ft['error']} | | | | |")
                continue
            lines.append(
                f"| {name} | fastText thread=2 (train call {ft['train_s']:.1f} s) "
                f"| {ft['wall_s']:.1f} | {ft['rss_mb']:,.0f} | {100 * ft['accuracy']:.2f} | | |"
            )
            runs = [
                (
                    f"bowclf fit{' --stream' * args.stream}, fastText's hyper-parameters, "
                    f"--threads {t}",
                    [*FT_SAME, "--threads", str(t), *(["--stream"] if args.stream else [])],
                    f"ft{t}",
                )
                for t in args.threads
            ]
            if name == "imdb" and not args.no_defaults:
                runs += [
                    (f"bowclf fit, defaults, --threads {t}", ["--threads", str(t)], f"def{t}")
                    for t in args.threads
                ]
            if args.baseline:
                runs = [
                    (f"{label} [{which}]", flags, f"{tag}{which}", code)
                    for label, flags, tag in runs
                    for which, code in (("baseline", args.baseline), ("this", None))
                ]
            else:
                runs = [(*run, None) for run in runs]
            first_model = None
            for label, flags, tag, code in runs:
                print(f"[{name}] {label}", file=sys.stderr, flush=True)
                r = _bowclf_fit(pair, flags, workdir, tag, code)
                if "error" in r:
                    lines.append(f"| {name} | {label} | failed: {r['error']} | | | | |")
                    continue
                first_model = first_model or r["model"]
                acc = "" if r["accuracy"] is None else f"{100 * r['accuracy']:.2f}"
                lines.append(
                    f"| {name} | {label} | {r['wall_s']:.1f} | {r['rss_mb']:,.0f} | {acc} "
                    f"| {ft['wall_s'] / r['wall_s']:.2f}× | {r['rss_mb'] / ft['rss_mb']:.2f}× |"
                )
                print(lines[-1], flush=True)
            if name == "imdb" and not args.no_predict and first_model:
                predict = _predict_rows(pair, first_model, ft["model"], workdir)
    lines += (
        [
            "",
            "| predict | wall s | docs/s | peak RSS MB | speed ÷ fastText |",
            "| --- | ---: | ---: | ---: | ---: |",
            *predict,
        ]
        if predict
        else []
    )
    lines.append(f"\n(load average at the end {os.getloadavg()[0]:.1f})")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
