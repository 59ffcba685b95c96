"""Distributed vocabulary, training and prediction on a 2-worker Dask cluster.

One ``LocalCluster`` (2 processes × 1 thread) serves the whole module; every test that needs
it is skipped when ``dask.distributed`` is not installed (``pip install 'bowclf[dask]'``).
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
from conftest import write_label_text_csv

from bowclf import BowVectorizer, TextClassifier
from bowclf.defaults import MULTICLASS_LR


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("dask.distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    with cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def parts(text_data):
    """The training fixture as 4 uneven partitions, one of them empty."""
    Xtr, ytr, _, _ = text_data
    cuts = [0, 250, 250, 520, len(Xtr)]
    texts = [Xtr[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    labels = [ytr[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    return texts, labels


@pytest.fixture(scope="module")
def local_model(text_data):
    Xtr, ytr, _, _ = text_data
    return TextClassifier(random_state=0, n_jobs=1).fit(Xtr, ytr)  # one shard = one thread


@pytest.fixture(scope="module")
def dask_model(client, parts):
    from bowclf.dask import fit_dask

    return fit_dask(TextClassifier(random_state=0), *parts, client=client)


def test_module_imports_without_dask_and_names_the_extra():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["dask"] = None
        sys.modules["distributed"] = None
        import bowclf.dask as bd
        try:
            bd.fit_dask(None, [])  # the extra is checked first
        except ImportError as exc:
            print(exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'bowclf[dask]'" in out.stdout


@pytest.mark.parametrize("params", [{}, {"min_count": 3}, {"max_features": 25, "lowercase": False}])
def test_vocabulary_equals_local_fit(client, parts, text_data, params):
    import dask.bag as db

    from bowclf.dask import fit_vectorizer_dask, used_columns_dask

    Xtr = text_data[0]
    local = BowVectorizer(ngrams=2, buckets=1000, **params).fit(Xtr)
    for texts in (parts[0], db.from_sequence(Xtr, npartitions=3)):
        vec = fit_vectorizer_dask(BowVectorizer(ngrams=2, buckets=1000, **params), texts)
        mine, ref = vec.get_fitted_state(), local.get_fitted_state()
        assert mine.keys() == ref.keys()
        for key in ref:
            np.testing.assert_array_equal(mine[key], ref[key])
            assert mine[key].dtype.kind == ref[key].dtype.kind
        assert vec.vocabulary_ == local.vocabulary_
    used = used_columns_dask(local, parts[0])
    np.testing.assert_array_equal(used, np.unique(local.transform(Xtr).indices))


def test_a_port_that_never_answers_fails_within_the_deadline(monkeypatch):
    """distributed's own timeout bounds the connection, not the handshake after it."""
    import socket

    pytest.importorskip("dask.distributed")
    from bowclf.backends import dask as backend

    monkeypatch.setattr(backend, "CONNECT_TIMEOUT", 1)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(5)
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        start = time.perf_counter()
        with pytest.raises(OSError, match="no answer within 2 s"):
            backend.get_client(None, address)
        assert time.perf_counter() - start < 5
    with pytest.raises(ValueError, match="not a usable Dask scheduler address"):
        backend.get_client(None, "inproc://nowhere")


def test_one_shard_reproduces_the_local_fit_bit_for_bit(client, parts, text_data, local_model):
    from bowclf.dask import fit_dask

    Xte = text_data[2]
    one = fit_dask(TextClassifier(random_state=0), *parts, client=client, n_shards=1)
    assert one.predict_proba(Xte).tobytes() == local_model.predict_proba(Xte).tobytes()
    np.testing.assert_array_equal(one.classifier_.A_, local_model.classifier_.A_)
    assert one.classifier_.loss_curve_ == local_model.classifier_.loss_curve_
    # what partial_fit / warm_start continue from: the shard's accumulators (were all zero)
    state, local = one.classifier_.optimizer_state_, local_model.classifier_.optimizer_state_
    assert state.keys() == local.keys() and state
    for key, value in local.items():
        np.testing.assert_array_equal(state[key], value)


@pytest.mark.parametrize("weights", ["balanced", {"uniform": 5.0}, {"skewed": 5.0}])
def test_one_shard_class_weights_equal_the_local_fit_bit_for_bit(client, parts, text_data, weights):
    """Weights are scaled to mean 1 over the whole training set on every route (uniform
    weights of 5 are exactly no weights), so `lr` alone sets the step size."""
    from bowclf.dask import fit_dask

    Xtr, ytr = text_data[0], text_data[1]
    classes = sorted(set(ytr))
    if weights != "balanced":
        weights = {c: 5.0 for c in classes} if "uniform" in weights else {classes[0]: 5.0}
    local = TextClassifier(random_state=0, n_jobs=1, class_weight=weights).fit(Xtr, ytr)
    one = fit_dask(
        TextClassifier(random_state=0, class_weight=weights), *parts, client=client, n_shards=1
    )
    np.testing.assert_array_equal(one.classifier_.A_, local.classifier_.A_)
    np.testing.assert_array_equal(one.classifier_.B_, local.classifier_.B_)
    if isinstance(weights, dict) and len(weights) == len(classes):
        plain = TextClassifier(random_state=0, n_jobs=1).fit(Xtr, ytr)
        np.testing.assert_array_equal(plain.classifier_.A_, local.classifier_.A_)


def test_two_classes_weigh_their_ngrams_as_the_local_fit_bit_for_bit(client, parts):
    from bowclf.dask import fit_dask

    dropped = parts[1][0][0]  # one of the three topics
    keep = [[i for i, y in enumerate(ys) if y != dropped] for ys in parts[1]]
    texts = [[t[i] for i in k] for t, k in zip(parts[0], keep, strict=True)]
    labels = [[y[i] for i in k] for y, k in zip(parts[1], keep, strict=True)]
    flat_x, flat_y = sum(texts, []), sum(labels, [])
    local = TextClassifier(random_state=0, n_jobs=1).fit(flat_x, flat_y)
    one = fit_dask(TextClassifier(random_state=0), texts, labels, client=client, n_shards=1)
    assert one.inputs_ == local.inputs_ and one.inputs_["ngram_weight"] == 0.7
    assert one.idf_.tobytes() == local.idf_.tobytes()
    np.testing.assert_array_equal(one.classifier_.A_, local.classifier_.A_)


def test_the_same_seed_gives_the_same_model_file_bytes(client, parts, dask_model, tmp_path):
    """No wall-clock timing (the Dask passes' and epochs' seconds) reaches the file."""
    from bowclf import save
    from bowclf.dask import fit_dask

    again = fit_dask(TextClassifier(random_state=0), *parts, client=client)
    a = save(dask_model, tmp_path / "a.bowclf").read_bytes()
    assert a == save(again, tmp_path / "b.bowclf").read_bytes()
    assert "epoch_seconds" in again.training_summary_["distributed"]  # kept in memory


def test_supervised_weights_equal_the_local_fit(dask_model, local_model):
    plain = local_model.get_params()["supervised_weight"]
    assert plain == 0.5 and dask_model.idf_.tobytes() == local_model.idf_.tobytes()


def test_distributed_fit_matches_local_accuracy_and_attributes(
    dask_model, local_model, text_data, tmp_path
):
    from bowclf import load, save

    _, _, Xte, yte = text_data
    assert abs(dask_model.score(Xte, yte) - local_model.score(Xte, yte)) <= 0.02
    assert dask_model.training_summary_["distributed"]["shards"] == 2
    assert list(dask_model.classes_) == list(local_model.classes_)
    assert not dask_model.multilabel_
    assert dask_model.vectorizer_.vocabulary_ == local_model.vectorizer_.vocabulary_
    np.testing.assert_array_equal(dask_model.feature_columns_, local_model.feature_columns_)
    np.testing.assert_array_equal(dask_model.idf_, local_model.idf_)
    for key in local_model.training_summary_:
        assert key in dask_model.training_summary_
    s = dask_model.training_summary_
    assert s["documents"] == len(text_data[0]) and s["epochs"] == local_model.classifier_.n_iter_
    # lr='auto' resolves as in memory (3 classes of short documents)
    assert s["lr"] == dask_model.classifier_.lr_ == local_model.classifier_.lr_ == MULTICLASS_LR
    path = save(dask_model, tmp_path / "m.bowclf")
    again = load(path)
    assert again.predict_proba(Xte).tobytes() == dask_model.predict_proba(Xte).tobytes()


def test_distributed_fit_is_deterministic(client, parts, dask_model, text_data):
    import dask.bag as db

    from bowclf.dask import fit_dask

    Xtr, ytr, Xte, _ = text_data
    again = fit_dask(TextClassifier(random_state=0), *parts, client=client)
    assert again.predict_proba(Xte).tobytes() == dask_model.predict_proba(Xte).tobytes()
    # the same partitioning as a Bag of (text, label) pairs
    pairs = db.from_sequence(list(zip(Xtr, ytr, strict=True)), npartitions=1)
    bags = db.concat([pairs, db.from_sequence(list(zip(Xtr, ytr, strict=True)), npartitions=1)])
    assert bags.npartitions == 2
    other = fit_dask(TextClassifier(random_state=0, epochs=2), bags, client=client)
    assert other.training_summary_["documents"] == 2 * len(Xtr)


def test_in_process_workers_train_the_model_worker_processes_do(parts, dask_model, text_data):
    """Shard actors on in-process workers each have their own optimiser: they shared the
    driver's (its AdaGrad accumulators raced between the shards), so every run differed.
    Several shards' accumulators are merged as their summed increments."""
    distributed = pytest.importorskip("dask.distributed")
    from bowclf.dask import fit_dask

    Xte = text_data[2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        )
    with cluster, distributed.Client(cluster) as threads:
        runs = [fit_dask(TextClassifier(random_state=0), *parts, client=threads) for _ in "ab"]
    for run in runs:
        assert run.predict_proba(Xte).tobytes() == dask_model.predict_proba(Xte).tobytes()
        state = run.classifier_.optimizer_state_
        assert state.keys() == dask_model.classifier_.optimizer_state_.keys() and state
        for key, value in dask_model.classifier_.optimizer_state_.items():
            np.testing.assert_array_equal(state[key], value)
            assert (value > 0).any()


@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_distributed_prediction_equals_local_exactly(dask_model, text_data, npartitions):
    import dask.bag as db

    from bowclf.dask import predict_dask, predict_proba_dask

    Xte = text_data[2][:-1] + ["", "unseen words only"]
    bag = db.from_sequence(Xte, npartitions=npartitions)
    P = predict_proba_dask(dask_model, bag).compute()
    assert P.tobytes() == dask_model.predict_proba(Xte).tobytes()
    assert predict_dask(dask_model, bag).compute() == dask_model.predict(Xte).tolist()
    # every row is scored alone (_math.row_scores): no length pass is needed for that
    fast = predict_proba_dask(dask_model, bag, exact=False).compute()
    assert fast.tobytes() == P.tobytes()


def test_prediction_blocks_follow_the_local_row_blocks():
    from bowclf.dask import _pieces

    # rows 5..20 of a 30-row input predicted in blocks of 8: [0,8) [8,16) [16,24) [24,30)
    assert _pieces(5, 15, 8, 30) == [(0, 3, 5, 8), (3, 11, 0, 8), (11, 15, 0, 8)]
    assert _pieces(24, 6, 8, 30) == [(0, 6, 0, 6)]


def test_distributed_prediction_of_a_dataframe_column(dask_model, text_data):
    pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    from bowclf.dask import predict_dask, predict_proba_dask

    Xte = text_data[2]
    df = dd.from_pandas(pd.DataFrame({"text": Xte}, index=np.arange(len(Xte)) * 2), npartitions=3)
    pred = predict_dask(dask_model, df["text"]).compute()
    assert pred.tolist() == dask_model.predict(Xte).tolist()
    assert pred.index.tolist() == (np.arange(len(Xte)) * 2).tolist()
    P = predict_proba_dask(dask_model, df["text"]).compute()
    assert P.tobytes() == dask_model.predict_proba(Xte).tobytes()


def test_training_on_dataframe_columns(client, text_data, dask_model):
    pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    from bowclf.dask import fit_dask

    Xtr, ytr, Xte, _ = text_data
    cuts = [0, 250, 520, len(Xtr)]  # the partitions of the `parts` fixture (empty one aside)
    frames = [
        pd.DataFrame({"text": Xtr[a:b], "label": ytr[a:b]}, index=range(a, b))
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]
    df = dd.from_pandas(pd.concat(frames), npartitions=1).repartition(divisions=[0, 250, 520, 899])
    model = fit_dask(TextClassifier(random_state=0), df["text"], df["label"], client=client)
    assert model.predict_proba(Xte).tobytes() == dask_model.predict_proba(Xte).tobytes()


def test_multilabel_training(client):
    from bowclf.dask import fit_dask

    rng = np.random.default_rng(0)
    topics = {"a": "alpha apple acorn", "b": "beta banana bread", "c": "gamma cherry cake"}
    texts, labels = [], []
    for _ in range(400):
        chosen = tuple(sorted(rng.choice(list(topics), size=rng.integers(1, 3), replace=False)))
        texts.append(" ".join([x for t in chosen for x in topics[t].split()] + ["the", "of"]))
        labels.append(chosen)
    model = fit_dask(
        TextClassifier(loss="ova", epochs=20, random_state=0),
        [texts[:200], texts[200:]],
        [labels[:200], labels[200:]],
        client=client,
    )
    assert model.multilabel_ and list(model.classes_) == ["a", "b", "c"]
    assert model.predict(["alpha apple beta banana"]) == [("a", "b")]


def test_fit_from_a_corpus_file_and_a_scheduler_address(client, text_data, tmp_path):
    from bowclf.dask import fit_dask_file

    Xtr, ytr, Xte, yte = text_data
    path = write_label_text_csv(tmp_path / "train.csv", Xtr, ytr)
    model = fit_dask_file(
        TextClassifier(random_state=0), path, client.scheduler.address, partitions=3
    )
    assert model.training_summary_["distributed"]["partitions"] == 3
    assert model.training_summary_["documents"] == len(Xtr)
    assert model.score(Xte, yte) >= 0.9


def test_a_corpus_file_is_read_once_into_the_partitions_of_its_documents(
    client, text_data, tmp_path, monkeypatch
):
    """``fit_dask_file`` reads the file once, in chunks, and the workers join them into
    ``ceil(n / partitions)`` consecutive documents per partition: the model is the one trained
    on those partitions given as lists (chunks cut inside partitions and across)."""
    import bowclf.corpus
    from bowclf import dask as bdask

    Xtr, ytr, _, _ = text_data
    path = write_label_text_csv(tmp_path / "train.csv", Xtr, ytr)
    opened = []
    iter_chunks = bowclf.corpus.iter_chunks
    monkeypatch.setattr(
        bowclf.corpus, "iter_chunks", lambda *a, **k: opened.append(a) or iter_chunks(*a, **k)
    )
    monkeypatch.setattr(bdask, "READ_CHUNK", 37)
    size = -(-len(Xtr) // 3)
    by_lists = bdask.fit_dask(
        TextClassifier(random_state=0),
        [list(Xtr[i : i + size]) for i in range(0, len(Xtr), size)],
        [list(ytr[i : i + size]) for i in range(0, len(Xtr), size)],
        client=client,
    )
    from_file = bdask.fit_dask_file(TextClassifier(random_state=0), path, client=client,
                                    partitions=3)  # fmt: skip
    assert len(opened) == 1
    assert from_file.training_summary_["distributed"]["partitions"] == 3
    np.testing.assert_array_equal(from_file.classifier_.A_, by_lists.classifier_.A_)
    np.testing.assert_array_equal(from_file.classifier_.B_, by_lists.classifier_.B_)
    assert from_file.classifier_.loss_curve_ == by_lists.classifier_.loss_curve_
    assert list(from_file.classes_) == list(by_lists.classes_)


def test_read_labelled_text_parses_on_the_workers(client, tmp_path):
    from bowclf.corpus import read_corpus
    from bowclf.dask import read_labelled_text

    rows = [("pos", 'a "quoted", text'), ("neg", "plain text"), ("pos", "x y z")] * 50
    labels, texts = zip(*rows, strict=True)
    path = write_label_text_csv(tmp_path / "c.csv", texts, labels)
    bag = read_labelled_text(str(path), blocksize=300)
    assert bag.npartitions > 1
    ref = read_corpus(path)
    assert bag.compute() == [(t, labs[0]) for t, labs in zip(ref.texts, ref.labels, strict=True)]
    ft = tmp_path / "c.ft"
    ft.write_text("__label__a __label__b some text\n__label__c more text\n", encoding="utf-8")
    assert read_labelled_text(str(ft), format="fasttext", multilabel=True).compute() == [
        ("some text", ("a", "b")),
        ("more text", ("c",)),
    ]
    # any name the corpus reader decompresses, .gzip too (fsspec's guess misses it)
    packed = tmp_path / "c.csv.gzip"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert read_labelled_text(str(packed), blocksize=300).compute() == bag.compute()


def test_input_errors(client, parts):
    from bowclf.dask import fit_dask

    texts, labels = parts
    with pytest.raises(ValueError, match="partition"):
        fit_dask(TextClassifier(), texts, labels[:-1], client=client)
    with pytest.raises(ValueError, match="only one class"):
        fit_dask(TextClassifier(), [["a b", "c d"]], [["x", "x"]], client=client)
    with pytest.raises(ValueError, match="merge"):
        fit_dask(TextClassifier(), texts, labels, client=client, merge="median")
    with pytest.raises(TypeError, match="partitions"):
        fit_dask(TextClassifier(), ["a", "b"], ["x", "y"], client=client)


def test_two_label_multilabel_training_keeps_the_size_rule_of_auto_epochs(client):
    """A multi-label corpus of two labels has two independent decisions: not the binary
    5-pass rule of ``epochs='auto'`` (as in memory: 10 passes for 400 documents)."""
    from test_epochs import _two_label_sets

    from bowclf.dask import fit_dask

    texts, sets = _two_label_sets()
    model = fit_dask(TextClassifier(random_state=0), [texts[:200], texts[200:]],
                     [sets[:200], sets[200:]], client=client)  # fmt: skip
    assert model.multilabel_ and model.training_summary_["epochs"] == 10


@pytest.mark.parametrize("two_classes", [False, True])
def test_a_probed_run_restarts_on_shards_as_in_memory(client, two_classes):
    """The early-overfitting probe (bowclf.overfit_probe): shards hold out the documents
    memory holds out, the driver scores them alike and the replicas restart with it (an
    overfitting multi-class run: 2 + 2 passes; a two-class run still learning: 2 + 5); one
    shard is the in-memory run bit for bit."""
    from conftest import make_texts, make_two_class_texts

    from bowclf.dask import fit_dask

    if two_classes:
        texts, labels = make_two_class_texts(2400, seed=0, flip=0.0)
    else:
        texts, labels = make_texts(2400, seed=3, noise=0.4)
    passes = 7 if two_classes else 4
    cuts = [0, 700, 1500, 2400]
    parts = ([texts[a:b] for a, b in zip(cuts, cuts[1:], strict=False)],
             [labels[a:b] for a, b in zip(cuts, cuts[1:], strict=False)])  # fmt: skip
    events = []
    local = TextClassifier(random_state=0, n_jobs=1).fit(texts, labels, callback=events.append)
    restarts = [e for e in events if e["event"] == "restart"]
    assert len(restarts) == 1 and local.classifier_.n_iter_ == passes
    assert restarts[0]["overfitting"] is not two_classes
    for shards in (1, 2):
        events = []
        model = fit_dask(TextClassifier(random_state=0), *parts, client=client, n_shards=shards,
                         callback=events.append)  # fmt: skip
        mine = [e for e in events if e["event"] == "restart"]
        assert len(mine) == 1 and model.classifier_.n_iter_ == passes
        if shards == 1:
            assert mine[0]["slice_losses"] == restarts[0]["slice_losses"]
            np.testing.assert_array_equal(model.classifier_.A_, local.classifier_.A_)
            np.testing.assert_array_equal(model.classifier_.B_, local.classifier_.B_)
            assert model.classifier_.loss_curve_ == local.classifier_.loss_curve_
