"""Autotune against the defaults on the shared corpora (issue 14's acceptance).

For each shared corpus (``bench/prep``'s split; ag_news: fold 1) and each requested run —
``defaults`` (``TextClassifier(random_state=0)``) or a time budget in seconds
(``autotune(train, time_budget=B, random_state=0)``, validation fraction 0.1) — one JSON
record is appended to ``--records``: the test score (accuracy %; Reuters-21578: micro-F1 %,
searched with ``metric='micro-f1'``), wall time, trials, the winner and its validation score,
and the load average sampled during the run (the machine may be shared).  ``--render``
writes the markdown table of every record to ``bench/RESULTS-autotune.md``-style output.

    python -m bench.bench_autotune --corpora trec sms_spam --runs defaults 120
    python -m bench.bench_autotune --corpora trec --runs 1200
    python -m bench.bench_autotune --render bench/RESULTS-autotune.md
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import REPO

RECORDS = REPO / "bench" / "RESULTS-autotune.jsonl"
SHARED = ["trec", "sms_spam", "sst2", "tweeteval_emoji", "ag_news", "reuters21578", "imdb"]


class _LoadSampler:
    """The 1-minute load average sampled every ``every`` seconds in a background thread."""

    def __init__(self, every: float = 10.0) -> None:
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> _LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples)


def _load_pair(name: str) -> tuple[dict[str, Any], tuple, tuple]:
    from bench.prep import prepare_pairs, read_csv_gz

    pair = prepare_pairs(name)[0]
    X, y = read_csv_gz(pair["train_csv"])
    Xt, yt = read_csv_gz(pair["test_csv"])
    if pair["multilabel"]:
        y = [tuple(cell.split()) for cell in y]
        yt = [tuple(cell.split()) for cell in yt]
    return pair, (X, y), (Xt, yt)


def _test_score(model, X, y, multilabel: bool) -> float:
    """Accuracy %, or micro-F1 % for multi-label data."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    pred = model.predict(X)
    if not multilabel:
        return 100 * float(accuracy_score(y, pred))
    mlb = MultiLabelBinarizer(classes=list(model.classes_))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # test labels unseen in training
        Y = mlb.fit_transform(y)
    return 100 * float(f1_score(Y, mlb.transform(pred), average="micro", zero_division=0))


def run_one(name: str, run: str, log=print) -> dict[str, Any]:
    """One record: ``run`` is ``'defaults'`` or a budget in seconds."""
    from bowclf import TextClassifier
    from bowclf.autotune import autotune

    pair, (X, y), (Xt, yt) = _load_pair(name)
    ml = bool(pair["multilabel"])
    rec: dict[str, Any] = {"corpus": pair["pair"], "run": run, "train_docs": len(X)}
    rec["started"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rec["commit"] = _COMMIT
    with _LoadSampler() as load:
        t0 = time.perf_counter()
        if run == "defaults":
            model = TextClassifier(random_state=0).fit(X, y)
            rec.update(winner="defaults", epochs=int(model.classifier_.n_iter_))
        else:
            metric = "micro-f1" if ml else "accuracy"
            res = autotune(X, y, time_budget=float(run), metric=metric, random_state=0)
            model = res.model
            first = res.trials[0] if res.trials else {}
            rec.update(
                budget=float(run),
                trials=len(res.trials),
                winner=_winner(res),
                best_params=res.best_params,
                valid_score=100 * res.best_score,
                defaults_valid=100 * first["score"] if first.get("round") == "defaults" else None,
                interrupted=res.interrupted,
                refitted=res.refitted,
            )
        rec["seconds"] = time.perf_counter() - t0
    rec["test"] = _test_score(model, Xt, yt, ml)
    rec["load"] = round(load.mean, 2)
    rec["cpus"] = os.cpu_count()
    log(json.dumps(rec))
    return rec


def _commit() -> str:
    import subprocess

    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return out.stdout.strip()


_COMMIT = _commit()  # the code this process runs (HEAD may move while it runs)


def _winner(res) -> str:
    params = {k: v for k, v in res.best_params.items() if k != "epochs"}
    first = res.trials[0] if res.trials else {}
    # the base configuration won: refitted as it is (its epochs 'auto', not a trial's count)
    if not params and first.get("round") == "defaults" and res.model.epochs == "auto":
        return "defaults" if res.best_score == res.best_score else "defaults (not scored)"
    shown = ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "base configuration"
    return f"{shown}; epochs={res.best_params['epochs']}"


def render(records: list[dict[str, Any]]) -> str:
    """Markdown: per corpus the defaults, then every budget's latest record."""
    records = [r for r in records if "commit" in r]  # earlier drafts of the script: not shown
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        latest[(r["corpus"], r["run"])] = r
    corpora = list(dict.fromkeys(r["corpus"] for r in records))
    lines = [
        "| corpus | defaults | autotune 2 min | 20 min | 2 min − defaults | 20 min − 2 min "
        "| 2 min: wall s / trials / load | 20 min: wall s / trials / load |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def num(r, key="test"):
        return f"{r[key]:.2f}" if r else ""

    def run_cell(r):
        return f"{r['seconds']:.0f} / {r['trials']} / {r['load']:.1f}" if r else ""

    for c in corpora:
        d, a, b = (latest.get((c, k)) for k in ("defaults", "120", "1200"))
        d_a = f"{a['test'] - d['test']:+.2f}" if a and d else ""
        a_b = f"{b['test'] - a['test']:+.2f}" if a and b else ""
        lines.append(
            f"| {c} | {num(d)} | {num(a)} | {num(b)} | {d_a} | {a_b} | {run_cell(a)} "
            f"| {run_cell(b)} |"
        )
    lines += ["", "Winners:", ""]
    for c in corpora:
        for k in ("120", "1200"):
            r = latest.get((c, k))
            if r:
                dv = r.get("defaults_valid")
                dv = f"{dv:.2f}" if dv is not None and dv == dv else "not scored"
                vs = f"{r['valid_score']:.2f}" if r["valid_score"] == r["valid_score"] else "-"
                lines.append(
                    f"- {c}, {int(float(k)) // 60} min (at {r['commit']}, {r['started']}): "
                    f"{r['winner']} (validation {vs}, defaults {dv})"
                )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_autotune", description=__doc__)
    ap.add_argument("--corpora", nargs="*", default=SHARED)
    ap.add_argument("--runs", nargs="*", default=["defaults", "120"])
    ap.add_argument("--records", type=Path, default=RECORDS)
    ap.add_argument("--render", type=Path, default=None, help="write the table here and stop")
    args = ap.parse_args(argv)
    if args.render:
        records = [json.loads(ln) for ln in args.records.read_text().splitlines() if ln.strip()]
        table = render(records)
        print(table)
        args.render.write_text(table)
        return 0
    for name in args.corpora:
        for run in args.runs:
            rec = run_one(name, run, log=lambda s: print(s, file=sys.stderr, flush=True))
            with args.records.open("a") as f:
                f.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
