"""fastText models in bowclf, small models, fast start-up: ``python -m bench.bench_fasttext``.

Three parts, written to ``bench/RESULTS-fasttext.md``:

1. **Agreement** — fastText models trained on the shared corpora (softmax / ova / hs, unigrams
   and bigrams, without and with character n-grams, each saved as ``.bin`` and quantised by
   fastText's own ``quantize`` into ``.ftz``) are run by :func:`bowclf.load_fasttext` on the
   test documents.  Top-1 agreement counts documents where fastText's first label is one of
   bowclf's most probable labels (fastText orders ties arbitrarily); top-k agreement compares
   the label sets of fastText's ``k=5`` answer (labels whose fastText score falls below its
   ``1e-5`` floor are not returned by fastText and are left out).  Probabilities are compared
   with :meth:`FastTextModel.fasttext_scores`, which adds fastText's ``+1e-5`` inside the log
   (``p + 1e-5``; for ``hs`` the product of ``(q + 1e-5)`` along the path).
2. **Quantisation** — bowclf models (``bowclf fit`` defaults) on imdb, tweeteval_emoji and
   ag_news (``--folds`` of the 5-fold CV of test.csv, as bench/prep.py), quantised with
   ``bowclf quantize`` (cutoff chosen for ≤ 1/50 of the size), against fastText's
   ``quantize`` of a fastText model trained on the same data.
3. **Start-up** — whole-process wall time of ``echo text | bowclf predict MODEL`` (median of
   repeats), with ``python -c pass`` and ``import numpy`` for scale.

Trained fastText models use ``thread=12``: with fewer than 10 threads fastText initialises only
``thread/10`` of the input matrix (``DenseMatrix::uniform``) and small models then fail with
"Encountered NaN".
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import REPO, load_dataset
from bench.prep import normalise

WORK = Path(os.environ.get("BOWCLF_BENCH_WORK", "/tmp/bowclf-bench-fasttext"))
PY = sys.executable
RETRAIN = os.environ.get("BOWCLF_BENCH_RETRAIN") == "1"  # also time --retrain (slow)
FT_EPOCHS = 25  # fastText's 5 default epochs leave it far from converged on 6,000 documents


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _bowclf(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, "-m", "bowclf.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
    )


def _ft_file(path: Path, texts, labels) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for t, y in zip(texts, labels, strict=True):
            f.write(f"__label__{y} {normalise(t)}\n")
    return path


def _csv(path: Path, texts, labels) -> Path:
    import csv

    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "text"])
        w.writerows(zip(labels, texts, strict=True))
    return path


def _split(name: str, fold: int = 0):
    if name == "ag_news":
        from sklearn.model_selection import StratifiedKFold

        texts, labels = load_dataset(name, "test")
        skf = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
        tr, te = list(skf.split(texts, labels))[fold]
        return (
            [texts[i] for i in tr],
            [labels[i] for i in tr],
            [texts[i] for i in te],
            [labels[i] for i in te],
        )
    tr_t, tr_y = load_dataset(name, "train")
    te_t, te_y = load_dataset(name, "test")
    return tr_t, tr_y, te_t, te_y


# ---------------------------------------------------------------------- 1. agreement
def agreement(name: str, configs, limit: int | None, rows: list[str]) -> None:
    import fasttext

    from bowclf import load_fasttext

    tr_t, tr_y, te_t, _ = _split(name)
    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    train = _ft_file(work / "train.txt", tr_t, tr_y)
    probe = [normalise(t) for t in te_t[:limit]]
    for loss, ngrams, chars in configs:
        model = fasttext.train_supervised(
            str(train),
            loss=loss,
            wordNgrams=ngrams,
            minn=chars[0],
            maxn=chars[1],
            bucket=200_000,
            epoch=5,
            thread=12,
            verbose=0,
        )
        base = work / f"{loss}-{ngrams}-{chars[1]}"
        model.save_model(str(base) + ".bin")
        model.quantize(input=str(train), cutoff=20_000, retrain=False, qnorm=True, qout=False)
        model.save_model(str(base) + ".ftz")
        for ext in (".bin", ".ftz"):
            path = str(base) + ext
            ref = fasttext.load_model(path)
            t0 = time.perf_counter()
            ours = load_fasttext(path)
            scores = ours.fasttext_scores(probe)
            seconds = time.perf_counter() - t0
            col = {f"__label__{c}": j for j, c in enumerate(ours.classes_)}
            k = min(5, len(ours.classes_))
            labels, probs = ref.predict(probe, k=k)
            top1 = topk = 0
            worst = 0.0
            for i, (labs, ps) in enumerate(zip(labels, probs, strict=True)):
                cols = [col[lab] for lab in labs]
                row = scores[i]
                top1 += row[cols[0]] >= row.max() - 1e-7
                mine = set(np.argsort(-row, kind="stable")[: len(cols)].tolist())
                kth = row[cols[-1]]
                topk += set(cols) == mine or np.isclose(row[list(mine)].min(), kth, atol=1e-7)
                worst = max(worst, float(np.abs(row[cols] - np.asarray(ps)).max()))
            n = len(probe)
            rows.append(
                f"| {name} | {loss} | {ngrams} | {'3-6' if chars[1] else '-'} | {ext} | {n:,} | "
                f"{100 * top1 / n:.2f} % | {100 * topk / n:.2f} % (k={k}) | {worst:.1e} | "
                f"{seconds:.1f} s |"
            )
            print(rows[-1], flush=True)


# ---------------------------------------------------------------------- 2. quantisation
def _accuracy(model_path: Path, test_csv: Path) -> float:
    import json

    out = _bowclf("evaluate", str(model_path), str(test_csv), "--json").stdout
    return float(json.loads(out)["accuracy"])


def _bowclf_quantised(work: Path, train_csv: Path, test_csv: Path) -> dict:
    """``bowclf fit`` defaults, then ``bowclf quantize --cutoff N --qnorm`` with the cutoff
    shrunk until the file is at most 1/50 of the model."""
    import json

    full = work / "full.bowclf"
    _bowclf("fit", str(train_csv), "-o", str(full), "-q")
    size = full.stat().st_size
    acc = _accuracy(full, test_csv)
    dim = json.loads(_bowclf("info", str(full), "--json").stdout)["arrays"]["classifier/B"][
        "shape"
    ][1]
    # bytes per kept feature: codes ⌈dim/2⌉ + norm code 1 + column 4 + idf 4
    cutoff = max(256, int(size / 52 / (-(-dim // 2) + 9)))
    extra = ["--retrain", "--input", str(train_csv)] if RETRAIN else []
    small = work / "small.bowclf"
    t0 = time.perf_counter()
    for _ in range(3):
        _bowclf("quantize", str(full), "-o", str(small), "--cutoff", str(cutoff), "--qnorm", *extra)
        if small.stat().st_size <= size / 50:
            break
        cutoff = int(cutoff * size / 51 / small.stat().st_size)
    seconds = time.perf_counter() - t0
    return {
        "size": size,
        "acc": acc,
        "small": small.stat().st_size,
        "q_acc": _accuracy(small, test_csv),
        "cutoff": cutoff,
        "seconds": seconds,
    }


def _fasttext_quantised(work: Path, tr_t, tr_y, te_t, te_y) -> dict:
    """fastText ``train_supervised(wordNgrams=2)`` then ``quantize(cutoff=100000,
    retrain=True, qnorm=True)``."""
    import fasttext

    train_ft = _ft_file(work / "train.txt", tr_t, tr_y)
    model = fasttext.train_supervised(
        str(train_ft), wordNgrams=2, epoch=FT_EPOCHS, thread=12, verbose=0
    )
    model.save_model(str(work / "ft.bin"))
    probe = [normalise(t) for t in te_t]

    def ft_acc(m) -> float:
        pred = [lab[0].removeprefix("__label__") for lab in m.predict(probe)[0]]
        return float(np.mean(np.asarray(pred) == np.asarray(te_y)))

    size = (work / "ft.bin").stat().st_size
    acc = ft_acc(model)
    t0 = time.perf_counter()
    model.quantize(input=str(train_ft), cutoff=100_000, retrain=True, qnorm=True, thread=12)
    seconds = time.perf_counter() - t0
    model.save_model(str(work / "ft.ftz"))
    small = (work / "ft.ftz").stat().st_size
    return {"size": size, "acc": acc, "small": small, "q_acc": ft_acc(model), "seconds": seconds}


def quantisation(name: str, rows: list[str], fold: int | None = None) -> tuple[dict, dict]:
    """One row of the side-by-side table (bowclf and fastText on the same split)."""
    tr_t, tr_y, te_t, te_y = _split(name, fold or 0)
    label = name if fold is None else f"{name} fold {fold + 1}"
    work = WORK / (f"q-{name}" if fold is None else f"q-{name}-fold{fold + 1}")
    work.mkdir(parents=True, exist_ok=True)
    train_csv = _csv(work / "train.csv", tr_t, tr_y)
    test_csv = _csv(work / "test.csv", te_t, te_y)
    ours = _bowclf_quantised(work, train_csv, test_csv)
    theirs = _fasttext_quantised(work, tr_t, tr_y, te_t, te_y)
    rows.append(_quant_row(label, ours, theirs))
    print(rows[-1], flush=True)
    return ours, theirs


def _quant_row(label: str, ours: dict, theirs: dict) -> str:
    def cells(r: dict, cutoff: bool) -> str:
        ratio = r["size"] / r["small"]
        extra = f", cutoff {r['cutoff']:,}" if cutoff else ""
        return (
            f"{r['size'] / 2**20:.1f} MB | {100 * r['acc']:.2f} | "
            f"{r['small'] / 2**20:.2f} MB ({ratio:.1f}x{extra}) | "
            f"{100 * r['q_acc']:.2f} ({100 * (r['q_acc'] - r['acc']):+.2f}) | "
            f"{r['seconds']:.0f} s"
        )

    return f"| {label} | {cells(ours, True)} | {cells(theirs, False)} |"


def _mean_row(label: str, results: list[tuple[dict, dict]]) -> str:
    def mean(side: int) -> dict:
        keys = ("size", "acc", "small", "q_acc", "seconds")
        out = {k: float(np.mean([r[side][k] for r in results])) for k in keys}
        out["cutoff"] = int(np.mean([r[side].get("cutoff", 0) for r in results]))
        return out

    return _quant_row(label, mean(0), mean(1)).replace(f"| {label} |", f"| **{label}** |", 1)


def _verdict(name: str, results: list[tuple[dict, dict]]) -> str:
    """Whether every split of ``name`` meets the acceptance (<= 1/50 size, <= 1 point)."""
    worst_ratio = min(r[0]["size"] / r[0]["small"] for r in results)
    worst_loss = min(100 * (r[0]["q_acc"] - r[0]["acc"]) for r in results)
    ok = worst_ratio >= 50 and worst_loss >= -1.0
    return (
        f"- {name}: smallest ratio {worst_ratio:.1f}x, largest loss {worst_loss:+.2f} points "
        f"over {len(results)} split(s): {'meets' if ok else 'misses'} the target "
        "(>= 50x at <= 1 point)."
    )


# ---------------------------------------------------------------------- 3. start-up
def _wall(argv: list[str], stdin: str, repeats: int) -> tuple[float, float]:
    """Median wall and CPU (user+sys) seconds of a whole process."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = os.times()
        t0 = time.perf_counter()
        subprocess.run(argv, input=stdin, capture_output=True, text=True, env=_env(), check=True)
        walls.append(time.perf_counter() - t0)
        after = os.times()
        cpus.append(
            (after.children_user - before.children_user)
            + (after.children_system - before.children_system)
        )
    return statistics.median(walls), statistics.median(cpus)


def startup(models: list[tuple[str, Path]], repeats: int, rows: list[str]) -> None:
    line = "this movie was a wonderful surprise, great acting\n"
    cases = [
        ("python -c pass", [PY, "-c", "pass"]),
        ("python -c 'import numpy'", [PY, "-c", "import numpy"]),
    ] + [
        (f"bowclf predict {label}", [PY, "-m", "bowclf.cli", "predict", str(p)])
        for label, p in models
    ]
    for label, argv in cases:
        wall, cpu = _wall(argv, line, repeats)
        size = ""
        for lab, p in models:
            if label.endswith(lab):
                size = f"{p.stat().st_size / 2**20:.1f} MB"
        rows.append(f"| {label} | {size} | {wall:.2f} s | {cpu:.2f} s |")
        print(rows[-1], flush=True)


def _write_section(out: Path, heading: str, lines: list[str]) -> None:
    """Replace the section starting with ``heading`` (up to the next ``## ``) in ``out``,
    keeping the others (a run of one part does not erase the other parts' tables)."""
    text = out.read_text() if out.exists() else _TITLE + "\n"
    body = "\n".join([heading, "", *lines, ""]) + "\n"
    at = text.find(heading)
    if at < 0:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = text.find("\n## ", at + len(heading))
        text = text[:at] + body + (text[end + 1 :] if end >= 0 else "")
    out.write_text(text)


_TITLE = "# fastText models in bowclf, quantisation, start-up (bench/bench_fasttext.py)"
_AGREEMENT = "## 1. bowclf runs fastText's models: agreement with fastText"
_QUANTISATION = "## 2. Quantisation: size and accuracy"
_STARTUP = "## 3. Start-up: `echo LINE | bowclf predict MODEL`, whole process"


def _run_line(argv: list[str], started: float, load: tuple[float, ...]) -> str:
    return (
        f"Run: `python -m bench.bench_fasttext {' '.join(argv)}` in "
        f"{(time.perf_counter() - started) / 60:.1f} min; machine: 2 cores shared by six "
        f"engineers (load average {load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the "
        "end): times are noisy, compare within one table."
    )


def _agreement_part(args, argv, out: Path) -> None:
    started, load = time.perf_counter(), os.getloadavg()
    agree: list[str] = []
    every = [
        (loss, n, chars) for loss in ("softmax", "ova", "hs") for n in (1, 2)
        for chars in ((0, 0), (3, 6))
    ]  # fmt: skip
    agreement("trec", every, args.limit, agree)
    some = [("softmax", 2, (3, 6)), ("ova", 1, (0, 0)), ("hs", 2, (0, 0))]
    agreement("sst2", some, args.limit, agree)
    agreement("ag_news", some, args.limit, agree)
    agreement("imdb", [("softmax", 2, (0, 0))], args.limit or 5000, agree)
    _write_section(out, _AGREEMENT, [
        _run_line(argv, started, load), "",
        "fastText's `predict` reports `exp(log(p + 1e-5))`; bowclf's `fasttext_scores` "
        "adds the same `1e-5` (for hs: to every branch probability on the path) and "
        "`predict_proba` returns the exact probabilities.  Max |Δp| is over every label "
        "fastText returned.  `.ftz`: fastText's `quantize -cutoff 20000 -qnorm` (pruned "
        "dictionary and buckets, product-quantised input, quantised norms).", "",
        "| corpus | loss | word n-grams | char n-grams | file | documents | top-1 agree | "
        "top-k agree | max |Δp| | bowclf load + predict |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *agree,
    ])  # fmt: skip


def _quantisation_part(args, argv, out: Path) -> None:
    """imdb first, then tweeteval_emoji, then the ag_news folds; the section is rewritten
    after every row, so an interrupted run leaves the rows it finished."""
    started, load = time.perf_counter(), os.getloadavg()
    rows: list[str] = []
    verdicts: list[str] = []

    def write() -> None:
        _write_section(out, _QUANTISATION, [
            _run_line(argv, started, load), "",
            "Side by side on the same split.  bowclf: `bowclf fit` defaults, then "
            "`bowclf quantize --cutoff N --qnorm` (dsub 2; N chosen for at most 1/50 of the "
            "file, shrunk and re-run if the file is larger)"
            + (", with `--retrain --input TRAIN`" if RETRAIN else "") + ".  fastText: "
            f"`train_supervised(wordNgrams=2, epoch={FT_EPOCHS}, thread=12)` (2M buckets, so its "
            "`.bin` is large) then `quantize(cutoff=100000, retrain=True, qnorm=True)` "
            "(its `-qout` needs at least 256 labels, so it is not used; bowclf's `--qout` "
            "codes B exactly for up to 256 labels but then takes about 9/8 of dense B's bytes, "
            "so it is not used either).  ag_news: "
            f"{args.folds} of the 5 folds of bench/prep.py's stratified CV of test.csv "
            "(6,080 train / 1,520 test each).  Accuracy in %, Δ in points; time = the "
            "quantise step (bowclf: all cutoff attempts, each a whole `bowclf quantize` "
            "process).", "",
            "| corpus | bowclf model | accuracy | bowclf quantised | accuracy (Δ) | time | "
            "fastText .bin | accuracy | fastText .ftz | accuracy (Δ) | time |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *rows, "", *verdicts,
        ])  # fmt: skip

    for name in ("imdb", "tweeteval_emoji"):
        verdicts.append(_verdict(name, [quantisation(name, rows)]))
        write()
    folds: list[tuple[dict, dict]] = []
    for fold in range(args.folds):
        folds.append(quantisation("ag_news", rows, fold))
        write()
    if len(folds) > 1:
        rows.append(_mean_row(f"ag_news mean of {len(folds)} folds", folds))
    if folds:
        verdicts.append(_verdict("ag_news", folds))
    write()


def _startup_part(args, argv, out: Path) -> None:
    started, load = time.perf_counter(), os.getloadavg()
    start: list[str] = []
    models = []
    for name in ("imdb", "ag_news", "tweeteval_emoji"):
        work = WORK / f"q-{name}"
        for file, label in (
            ("full.bowclf", f"{name} (bowclf)"),
            ("small.bowclf", f"{name} quantised (bowclf)"),
            ("ft.bin", f"{name} fastText .bin"),
            ("ft.ftz", f"{name} fastText .ftz"),
        ):
            if (work / file).exists():
                models.append((label, work / file))
    startup(models, args.repeats, start)
    _write_section(out, _STARTUP, [
        _run_line(argv, started, load), "",
        f"Median of {args.repeats} runs; CPU = user + system time of the process "
        "(less sensitive to the shared machine than wall time).", "",
        "| command | model file | wall | CPU |", "|---|---|---|---|", *start,
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="agreement,quantize,startup")
    ap.add_argument("--limit", type=int, default=None, help="Test documents per corpus.")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--folds", type=int, default=5, help="ag_news CV folds to quantise.")
    ap.add_argument("--out", default=str(REPO / "bench" / "RESULTS-fasttext.md"))
    args = ap.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    parts = set(args.parts.split(","))
    WORK.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    if "agreement" in parts:
        _agreement_part(args, argv, out)
    if "quantize" in parts:
        _quantisation_part(args, argv, out)
    if "startup" in parts:
        _startup_part(args, argv, out)
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
