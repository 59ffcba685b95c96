"""Out-of-core training: same model quality as in memory, bounded cache, clean-up."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from conftest import write_label_text_csv
from sklearn.base import clone

from bowclf import TextClassifier
from bowclf.stream import fit_stream


@pytest.fixture
def corpus_file(tmp_path, text_data):
    Xtr, ytr, _, _ = text_data
    return write_label_text_csv(tmp_path / "train.csv", Xtr, ytr)


def test_out_of_core_matches_in_memory(corpus_file, text_data, tmp_path):
    Xtr, ytr, Xte, yte = text_data
    mem = TextClassifier(random_state=0).fit(Xtr, ytr)
    ooc = fit_stream(
        TextClassifier(random_state=0),
        corpus_file,
        block_docs=128,
        chunk_size=100,
        cache_dir=tmp_path,
    )
    # the documents reach training in another order: at most 1 % (3 of 300) more or fewer
    # right, counted in documents (0.9333 − 0.9233 is 0.010000000000000009 in floats)
    right = [int(np.sum(m.predict(Xte) == np.asarray(yte))) for m in (ooc, mem)]
    assert abs(right[0] - right[1]) <= 0.01 * len(yte)
    assert list(ooc.classes_) == list(mem.classes_)
    assert ooc.vectorizer_.vocabulary_ == mem.vectorizer_.vocabulary_
    np.testing.assert_array_equal(ooc.feature_columns_, mem.feature_columns_)
    np.testing.assert_array_equal(ooc.idf_, mem.idf_)  # document frequencies from the cache
    s = ooc.training_summary_
    assert s["out_of_core"] and s["documents"] == len(Xtr) and s["epochs"] == 10
    assert s["cache"] is None
    assert list(tmp_path.iterdir()) == [corpus_file]  # the cache is gone
    # the summary counts alike on every route: features before min_df (it counted after it
    # in memory); min_df=2 prunes here
    pruned = TextClassifier(random_state=0, min_df=2, epochs=1)
    by_route = [pruned.fit(Xtr, ytr), fit_stream(clone(pruned), corpus_file, cache_dir=tmp_path)]
    assert by_route[0].feature_columns_.size < by_route[0].vectorizer_.n_features_out_
    for key in ("features", "tokens", "documents", "columns", "vocabulary"):
        assert by_route[0].training_summary_[key] == by_route[1].training_summary_[key], key


def test_out_of_core_is_reproducible_and_can_keep_its_cache(corpus_file, text_data, tmp_path):
    _, _, Xte, _ = text_data
    a = fit_stream(TextClassifier(random_state=3), corpus_file, block_docs=100)
    b = fit_stream(
        TextClassifier(random_state=3),
        corpus_file,
        block_docs=100,
        keep_cache=True,
        cache_dir=tmp_path,
    )
    assert a.predict_proba(Xte).tobytes() == b.predict_proba(Xte).tobytes()
    cache = b.training_summary_["cache"]
    assert cache and (tmp_path / cache).exists()
    # the kept cache's (random) path is not stored: same seed, same file bytes
    from bowclf import save

    c = fit_stream(TextClassifier(random_state=3), corpus_file, block_docs=100,
                   keep_cache=True, cache_dir=tmp_path)  # fmt: skip
    assert c.training_summary_["cache"] != cache
    assert (
        save(b, tmp_path / "b.bowclf").read_bytes() == save(c, tmp_path / "c.bowclf").read_bytes()
    )


def test_out_of_core_multilabel(tmp_path):
    rng = np.random.default_rng(0)
    topics = {"a": "alpha apple acorn", "b": "beta banana bread", "c": "gamma cherry cake"}
    path = tmp_path / "ml.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["labels", "text"])
        for _ in range(500):
            chosen = sorted(rng.choice(list(topics), size=rng.integers(1, 3), replace=False))
            words = [x for t in chosen for x in topics[t].split()] + ["the", "of"]
            w.writerow([" ".join(chosen), " ".join(words)])
    model = fit_stream(
        TextClassifier(loss="ova", epochs=20, random_state=0),
        path,
        corpus_kw={"label_sep": " "},
        block_docs=64,
    )
    assert model.multilabel_ and list(model.classes_) == ["a", "b", "c"]
    assert model.predict(["alpha apple beta banana"]) == [("a", "b")]


def test_out_of_core_errors(tmp_path, corpus_file):
    one = tmp_path / "one.csv"
    one.write_text("label,text\nx,hello there\nx,general kenobi\n", encoding="utf-8")
    with pytest.raises(ValueError, match="only one class"):
        fit_stream(TextClassifier(), one)
    with pytest.raises(ValueError, match="class_weight"):
        fit_stream(TextClassifier(class_weight="balanced"), corpus_file)


def test_out_of_core_multilabel_with_validation(tmp_path):
    path = tmp_path / "ml.csv"
    rows = [("a b", "alpha beta"), ("a", "alpha"), ("b", "beta"), ("c", "gamma")] * 50
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["labels", "text"])
        w.writerows(rows)
    model = fit_stream(
        TextClassifier(loss="ova", epochs=3, random_state=0),
        path,
        corpus_kw={"label_sep": " "},
        X_val=["alpha", "gamma"],
        y_val=[("a",), ("c",)],
    )
    assert len(model.classifier_.validation_scores_) == 3


# ---------------------------------------------------------------------- issue 20, item 13
@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs named pipes")
def test_a_pipe_trains_out_of_core_like_its_file(corpus_file, tmp_path):
    """The corpus is read once (the parsed chunks are kept for the second pass), so a FIFO
    (or `<(…)`) trains the model its file trains."""
    import os
    import threading

    from bowclf.persist import save

    fifo = tmp_path / "corpus.fifo"
    os.mkfifo(fifo)
    feed = threading.Thread(target=lambda: fifo.write_bytes(corpus_file.read_bytes()))
    feed.start()
    piped = fit_stream(TextClassifier(random_state=0), fifo, cache_dir=tmp_path)
    feed.join()
    whole = fit_stream(TextClassifier(random_state=0), corpus_file, cache_dir=tmp_path)
    a = save(piped, tmp_path / "piped.bowclf").read_bytes()
    assert a == save(whole, tmp_path / "whole.bowclf").read_bytes()
    from bowclf.backends.disk import CACHE_PREFIX

    assert not [p for p in tmp_path.iterdir() if p.name.startswith(CACHE_PREFIX)]


def test_stale_caches_of_dead_processes_are_removed(corpus_file, tmp_path):
    """A cache left by a killed process (SIGKILL/SIGHUP/SIGQUIT skip the clean-up) is removed
    by the next out-of-core fit in the same directory; live and foreign ones are kept."""
    import os
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    caches = tmp_path / "caches"
    caches.mkdir()
    host, gone = socket.gethostname(), dead.stdout.strip()
    owners = {"stale": f"{gone} {host}", "live": f"{os.getppid()} {host}",
              "other-host": f"{gone} elsewhere", "foreign": None}  # fmt: skip
    for name, owner in owners.items():
        folder = caches / f"bowclf-cache-{name}"
        folder.mkdir()
        (folder / "data.bin").write_bytes(b"x" * 100)
        if owner is not None:
            (folder / "owner.pid").write_text(owner)
    fit_stream(TextClassifier(dim=4, epochs=1), corpus_file, cache_dir=caches)
    left = sorted(p.name for p in caches.iterdir())
    assert left == ["bowclf-cache-foreign", "bowclf-cache-live", "bowclf-cache-other-host"]


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs named pipes")
def test_cli_fit_stream_reads_stdin(corpus_file, tmp_path):
    from click.testing import CliRunner

    from bowclf.cli import cli

    runner = CliRunner()
    piped = runner.invoke(cli, ["fit", "-", "--stream", "--seed", "0", "-o",
                                str(tmp_path / "piped.bowclf")],
                          input=corpus_file.read_bytes())  # fmt: skip
    assert piped.exit_code == 0, piped.stderr
    assert "Training out of core on <stdin>" in piped.stderr
    whole = runner.invoke(cli, ["fit", str(corpus_file), "--stream", "--seed", "0", "-o",
                                str(tmp_path / "whole.bowclf")])  # fmt: skip
    assert whole.exit_code == 0
    assert (tmp_path / "piped.bowclf").read_bytes() == (tmp_path / "whole.bowclf").read_bytes()


def test_cli_fit_stream_multilabel_with_a_validation_file_of_single_labels(tmp_path, text_data):
    """The validation file is read before the corpus says it is multi-label: its single
    labels are one-label collections (was: 'y_val must be label collections')."""
    from click.testing import CliRunner

    from bowclf.cli import cli

    Xtr, ytr, Xte, yte = text_data
    lines = [f"__label__{y} " + (f"__label__x{y} " if i % 4 == 0 else "") + t
             for i, (t, y) in enumerate(zip(Xtr, ytr, strict=True))]  # fmt: skip
    (tmp_path / "ml.ft").write_text("\n".join(lines) + "\n", encoding="utf-8")
    valid = [f"__label__{y} {t}" for t, y in zip(Xte[:60], yte[:60], strict=True)]
    (tmp_path / "v.ft").write_text("\n".join(valid) + "\n", encoding="utf-8")
    runner = CliRunner()
    for route in ("--stream", "--in-memory"):
        res = runner.invoke(cli, ["fit", str(tmp_path / "ml.ft"), route, "--epochs", "2",
                                  "--valid", str(tmp_path / "v.ft"), "-o",
                                  str(tmp_path / f"m{route}.bowclf")])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert "validation" in res.stderr


def test_blocks_hold_at_most_block_docs_documents_and_block_nnz_non_zeros(tmp_path):
    from bowclf.backends.disk import _block_starts

    nnz = np.array([5, 1, 1, 9, 1, 1, 1, 2, 2, 30, 1], dtype=np.int64)
    path = tmp_path / "row_nnz.offsets"
    np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64).tofile(path)
    starts, most = _block_starts(path, nnz.size, block_docs=3, block_nnz=10)
    assert starts[0] == 0 and starts[-1] == nnz.size and (np.diff(starts) >= 1).all()
    for a, b in zip(starts[:-1], starts[1:], strict=True):
        assert b - a <= 3
        assert b - a == 1 or nnz[a:b].sum() <= 10  # a document longer than the limit: alone
        assert b == nnz.size or b - a == 3 or nnz[a : b + 1].sum() > 10  # as long as allowed
    assert starts.tolist() == [0, 3, 5, 8, 9, 10, 11]
    assert most == 30  # the largest block's non-zeros (the reused arrays' size)


def test_out_of_core_blocks_by_non_zeros_train_the_same_model_on_two_threads(tmp_path):
    texts = [" ".join(f"w{(i * 7 + j) % 50}" for j in range(5 + i % 40)) for i in range(300)]
    labels = ["ab"[i % 2] for i in range(300)]
    path = write_label_text_csv(tmp_path / "train.csv", texts, labels)
    models = [
        fit_stream(TextClassifier(random_state=1, n_jobs=n), path, block_docs=64, block_nnz=n_nnz)
        for n, n_nnz in ((1, 500), (2, 500), (1, 10**6))
    ]
    A = [m.classifier_.A_ for m in models]
    np.testing.assert_array_equal(A[0], A[1])
    assert not np.array_equal(A[0], A[2])  # other blocks: another shuffle


@pytest.mark.parametrize("min_df", [1, 2])
def test_auto_batch_size_is_resolved_alike_out_of_core(tmp_path, min_df):
    """batch_size='auto' is 1 for dense rows on every route (out of core took 32 whatever the
    rows: another model than in memory on a small vocabulary), judged on the classifier's
    columns (min_df=2: each document's two words of its own are dropped, and the rows of
    the other four words are sparse). One block of documents in file order then trains the
    same arrays as in memory, bit for bit."""
    rng = np.random.default_rng(0)
    if min_df == 1:  # two of three words: dense rows
        X = [" ".join(rng.permutation(["good", "bad", "ok"])[:2]) for _ in range(600)]
    else:  # one of four words, and two words no other document has
        X = [f"{rng.choice(['good', 'bad', 'ok', 'fine'])} u{i} v{i}" for i in range(600)]
    y = ["pos" if ("good" in x) == (rng.random() < 0.9) else "neg" for x in X]
    path = write_label_text_csv(tmp_path / "dense.csv", X, y)
    params = {"random_state": 0, "dim": 8, "ngrams": 1, "min_df": min_df, "epochs": 3}
    mem = TextClassifier(**params).fit(X, y)
    ooc = fit_stream(TextClassifier(**params), path, cache_dir=tmp_path)
    rows = mem._features(X)  # the classifier's columns
    want = 1 if min_df == 1 else 32
    assert mem.classifier_._batch_size(rows.nnz, *rows.shape) == want
    np.testing.assert_array_equal(ooc.classifier_.A_, mem.classifier_.A_)
    np.testing.assert_array_equal(ooc.classifier_.B_, mem.classifier_.B_)


def test_out_of_core_training_closes_the_files_it_reads(tmp_path, corpus_file):
    """The passes' spool files are closed when a pass ends (they were left to the garbage
    collector: a ResourceWarning per file and fit)."""
    import gc
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        fit_stream(TextClassifier(random_state=0, epochs=1), corpus_file, cache_dir=tmp_path)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
