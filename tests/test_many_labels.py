"""Many labels end to end: fit, predict, top-k and the evaluation report (API and
``bowclf evaluate``) with 20k labels and no documents×labels array; the ranked report agrees
with the dense one; sparse multi-label targets stay sparse."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner
from sklearn import metrics as skm
from sklearn.preprocessing import MultiLabelBinarizer

from bowclf import BowClassifier, TextClassifier
from bowclf.cli import cli
from bowclf.persist import save
from bowclf.report import Ranked, compute_report, evaluate, predict_for_report, write_misclassified
from bowclf.report import ranked as ranked_mod
from bowclf.targets import read_targets


def _tag_texts(n_labels: int, n_docs: int, seed: int = 0, multilabel: bool = False):
    """Label k is marked by the words ``wk`` and ``vk``, plus one of 50 noise words; every
    label occurs, with Zipfian frequencies (multi-label: each document also has label k+1)."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.arange(n_labels), rng.zipf(1.3, n_docs - n_labels) % n_labels])
    texts = [f"w{k} v{k} n{rng.integers(50)}" for k in y]
    if multilabel:
        return texts, [[f"t{k}", f"t{(k + 1) % n_labels}"] for k in y]
    return texts, [f"t{k}" for k in y]


class _Peaks:
    """The most memory (tracemalloc) each step allocated above what was held before it."""

    def __init__(self) -> None:
        self.steps: dict[str, int] = {}

    def __call__(self, name: str, fn):
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn()
        self.steps[name] = tracemalloc.get_traced_memory()[1] - before
        return out


def test_20k_labels_fit_predict_and_evaluate_without_a_documents_by_labels_array(tmp_path):
    """An n×c float64 array of the 6,000 evaluated documents would take 960 MB (of the
    training documents 4.2 GB); fitting, predicting, ranking and the report (API, and
    ``bowclf evaluate`` in-process, loading the model included) each allocate under a
    tenth of it."""
    c, n = 20_000, 6_000
    texts, y = _tag_texts(c, c + 6_000)
    test_texts, test_y = texts[:n], y[:n]
    assert ranked_mod.needs_ranked(n, c)
    (tmp_path / "test.csv").write_text(
        "label,text\n" + "".join(f"{lab},{t}\n" for lab, t in zip(test_y, test_texts, strict=True)),
        encoding="utf-8",
    )
    model = TextClassifier(loss="hs", dim=8, epochs=20, lr=1.0, optimizer="sgd", random_state=0)
    args = ["evaluate", str(tmp_path / "m.bowclf"), str(tmp_path / "test.csv"), "--json"]
    step = _Peaks()
    tracemalloc.start()
    try:
        step("fit", lambda: model.fit(texts, y))
        pred = step("predict", lambda: model.predict(test_texts))
        top = step("predict_topk", lambda: model.predict_topk(test_texts, k=5))
        report = step("evaluate", lambda: evaluate(model, test_texts, test_y))
        ranked = step("rank", lambda: predict_for_report(model, test_texts, (1, 5)))
        again = step("compute_report", lambda: compute_report(test_y, ranked, model.classes_))
        save(model, tmp_path / "m.bowclf")
        result = step("cli evaluate", lambda: CliRunner().invoke(cli, args))
    finally:
        tracemalloc.stop()
    bound = n * c * 8 // 10
    assert all(v < bound for v in step.steps.values()), (step.steps, bound)
    assert result.exit_code == 0, result.output
    cli_report = json.loads(result.output)
    accuracy = float(np.mean(np.asarray(pred) == np.asarray(test_y)))
    hits5 = np.mean([t in [lab for lab, _ in row] for t, row in zip(test_y, top, strict=True)])
    assert isinstance(ranked, Ranked) and ranked.k == 5
    for r in (report, again):
        assert r.accuracy == pytest.approx(accuracy) and r.top_k[1].precision == r.accuracy
        assert r.top_k[5].recall == pytest.approx(hits5)
        assert r.top_k[5].precision == pytest.approx(hits5 / 5)
        assert len(r.per_class) == ranked_mod.SUMMARY_CLASSES and r.log_loss is None
        assert r.per_class_omitted.n_classes == c - ranked_mod.SUMMARY_CLASSES
        shown = sum(row.support for row in r.per_class)
        assert shown + r.per_class_omitted.support == n
        assert len(r.confusion_matrix[0]) == ranked_mod.SUMMARY_CLASSES
    supports = [row.support for row in report.per_class]
    assert supports == sorted(supports, reverse=True)
    assert supports[-1] >= max(
        np.bincount([int(t[1:]) for t in test_y], minlength=c)[
            [int(str(row.label)[1:]) for row in report.per_class]
        ].min(),
        0,
    )
    assert cli_report["accuracy"] == pytest.approx(accuracy)
    assert cli_report["per_class_omitted"]["n_classes"] == c - ranked_mod.SUMMARY_CLASSES
    assert cli_report["top_k"]["5"] == pytest.approx(json.loads(report.to_json())["top_k"]["5"])
    text = report.render_text(color=False)
    assert f"{c - ranked_mod.SUMMARY_CLASSES:,} other classes" in text


def test_20k_labels_multilabel_fit_and_evaluate_with_sparse_indicators():
    c, n = 20_000, 4_000
    texts, y = _tag_texts(c, c + 4_000, seed=1, multilabel=True)
    model = TextClassifier(loss="hs", dim=8, epochs=20, lr=1.0, optimizer="sgd", random_state=0)
    step = _Peaks()
    tracemalloc.start()
    try:
        step("fit", lambda: model.fit(texts, y))
        sets = step("predict", lambda: model.predict(texts[:n]))
        report = step("evaluate", lambda: evaluate(model, texts[:n], y[:n]))
    finally:
        tracemalloc.stop()
    assert all(v < n * c * 8 // 10 for v in step.steps.values()), step.steps  # 64 MB
    # the label sets equal the model's own rule applied to its full probabilities
    P = model.predict_proba(texts[:50])
    clf = model.classifier_
    for row, labels in zip(P, sets[:50], strict=True):
        chosen = set(np.flatnonzero(row >= clf.threshold_).tolist())
        if clf.top_label_:
            chosen.add(int(np.argmax(row)))
        assert set(labels) == {model.classes_[j] for j in chosen}
    assert report.multilabel and report.per_class_omitted is not None
    assert report.label_cardinality["true"]["mean"] == 2.0
    assert report.calibration.kind == "top1" and report.log_loss is None
    top = model.predict_topk(texts[:n], k=5)
    hits = sum(len(set(g) & {lab for lab, _ in row}) for g, row in zip(y[:n], top, strict=True))
    assert report.top_k[5].precision == pytest.approx(hits / (5 * n))
    assert report.top_k[5].recall == pytest.approx(hits / (2 * n))


def _ranked_from(P: np.ndarray, k: int) -> Ranked:
    order = np.lexsort((np.broadcast_to(np.arange(P.shape[1]), P.shape), -P), axis=1)[:, :k]
    return Ranked(order, np.take_along_axis(P, order, 1))


@pytest.mark.parametrize("multilabel", [False, True])
def test_ranked_report_agrees_with_the_dense_report(monkeypatch, multilabel):
    rng = np.random.default_rng(3)
    n, c = 300, 40
    classes = [f"c{j}" for j in range(c)]
    logits = rng.normal(size=(n, c)) * 2
    if multilabel:
        P = 1 / (1 + np.exp(-logits))
        Y = (rng.random((n, c)) < 0.08).astype(np.int8)
        y_pred = (P >= 0.5).astype(np.int8)
        y_true, kw = Y, {"y_pred": y_pred}
    else:
        P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y_true, kw = [classes[j] for j in rng.integers(0, c, n)], {}
    dense = compute_report(y_true, P, classes, k=(1, 3), multilabel=multilabel, **kw)
    monkeypatch.setattr(ranked_mod, "SUMMARY_CLASSES", 12)
    sparse_kw = {"y_pred": sp.csr_array(kw["y_pred"])} if multilabel else {}
    y_sparse = sp.csr_array(y_true) if multilabel else y_true
    many = compute_report(y_sparse, _ranked_from(P, c), classes, k=(1, 3),
                          multilabel=multilabel, **sparse_kw)  # fmt: skip
    for name in ("accuracy", "macro", "micro", "weighted", "samples", "hamming_loss"):
        assert getattr(many, name) == pytest.approx(getattr(dense, name)), name
    for kk in (1, 3):
        for field in ("precision", "recall", "accuracy"):
            want = getattr(dense.top_k[kk], field)
            assert getattr(many.top_k[kk], field) == pytest.approx(want), (kk, field)
    rows = {r.label: r for r in dense.per_class}
    assert len(many.per_class) == 12
    assert all(r == rows[r.label] for r in many.per_class)
    rest = [rows[lab] for lab in classes if lab not in {r.label for r in many.per_class}]
    omitted = many.per_class_omitted
    assert omitted.n_classes == c - 12 and omitted.support == sum(r.support for r in rest)
    assert omitted.f1 == pytest.approx(np.mean([r.f1 for r in rest]))
    assert omitted.predicted == sum(r.predicted for r in rest)
    if not multilabel:
        listed = [dense.labels.index(r.label) for r in many.per_class]
        full = dense.confusion_sparse().toarray()
        assert np.array_equal(many.confusion_sparse().toarray(), full[np.ix_(listed, listed)])
        assert [(x.true, x.pred, x.count) for x in many.confusions] == [
            (x.true, x.pred, x.count) for x in dense.confusions
        ]
    assert f"{c - 12} other {'labels' if multilabel else 'classes'} (mean)" in many.render_html()
    back = type(many).from_dict(json.loads(many.to_json()))
    assert back.per_class_omitted == omitted
    assert "per_class_omitted" not in dense.to_dict()


@pytest.mark.parametrize("multilabel", [False, True])
def test_ranked_and_dense_reports_agree_on_gold_labels_the_model_never_saw(multilabel):
    rng = np.random.default_rng(4)
    n, c = 200, 12
    classes = [f"c{j}" for j in range(c)]
    logits = rng.normal(size=(n, c)) * 2
    pool = classes + ["ghost", "zz"]
    if multilabel:
        P = 1 / (1 + np.exp(-logits))
        y_true = [list(rng.choice(pool, rng.integers(1, 3), replace=False)) for _ in range(n)]
    else:
        P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y_true = list(rng.choice(pool, n))
    dense = compute_report(y_true, P, classes, k=(1, 3), multilabel=multilabel)
    many = compute_report(y_true, _ranked_from(P, c), classes, k=(1, 3), multilabel=multilabel)
    assert dense.unseen_documents > 0 and many.unseen_counts == dense.unseen_counts
    names = ["accuracy", "macro", "micro", "weighted"]
    names += ["samples", "hamming_loss"] if multilabel else []
    for name in names:
        assert getattr(many, name) == pytest.approx(getattr(dense, name)), name
    # and both are scikit-learn's scores on the raw labels (the union of gold and classes)
    if multilabel:
        union = MultiLabelBinarizer(classes=pool)
        gold = union.fit_transform(y_true)
        pred = union.transform([[classes[j] for j in np.flatnonzero(row >= 0.5)] for row in P])
    else:
        gold, pred = y_true, [classes[j] for j in P.argmax(axis=1)]
    for avg in ("macro", "micro", "weighted"):
        want = skm.precision_recall_fscore_support(gold, pred, average=avg, zero_division=0)
        got = getattr(many, avg)
        assert (got.precision, got.recall, got.f1) == pytest.approx(want[:3]), avg


def test_ranked_multilabel_confusions_show_the_same_examples_as_the_dense_report():
    """Most confident mistakes first in both: a missed label's least probable documents."""
    rng = np.random.default_rng(5)
    n, c = 200, 8
    classes = [f"c{j}" for j in range(c)]
    P = 1 / (1 + np.exp(-rng.normal(size=(n, c)) * 2))
    Y = (rng.random((n, c)) < 0.2).astype(np.int8)
    texts = [f"doc {i}" for i in range(n)]
    kw = {"k": (1,), "multilabel": True, "texts": texts, "top_confusions": 100}
    kw["y_pred"] = (P >= 0.5).astype(np.int8)
    dense = compute_report(Y, P, classes, **kw)
    kw["y_pred"] = sp.csr_array(kw["y_pred"])
    many = compute_report(sp.csr_array(Y), _ranked_from(P, c), classes, **kw)

    def shown(report):
        return [(x.true, x.pred, x.count, [e.index for e in x.examples]) for x in report.confusions]

    assert shown(many) == shown(dense)
    assert any(x.pred is None for x in dense.confusions)


def test_evaluate_switches_to_ranked_predictions_above_the_memory_bound(monkeypatch):
    texts, y = _tag_texts(30, 400, seed=2)
    model = TextClassifier(loss="hs", epochs=5, lr=0.5, random_state=0).fit(texts, y)
    dense = evaluate(model, texts, y)
    assert isinstance(predict_for_report(model, texts), np.ndarray)
    monkeypatch.setattr(ranked_mod, "DENSE_REPORT_BYTES", 400 * 30 * 8 - 1)
    monkeypatch.setattr(ranked_mod, "SUMMARY_CLASSES", 10)
    ranked = predict_for_report(model, texts, (1, 7))
    assert isinstance(ranked, Ranked) and ranked.k == 7
    many = evaluate(model, texts, y)
    assert dense.per_class_omitted is None and many.per_class_omitted.n_classes == 20
    assert many.accuracy == pytest.approx(dense.accuracy)
    assert many.top_k[5].recall == pytest.approx(dense.top_k[5].recall)


def test_ranked_multilabel_report_uses_the_models_own_decision(monkeypatch):
    """One-vs-all probabilities do not sum to 1 (more than ⌈1/threshold⌉ labels can pass)
    and a featureless document gets the most frequent label: the ranked report must score
    ``model.predict``'s label sets, as the dense one does."""
    texts, y = _tag_texts(30, 400, seed=2, multilabel=True)
    model = TextClassifier(loss="ova", epochs=1, lr=0.05, threshold=0.02, random_state=0)
    model.fit(texts, y)
    ev_texts, ev_y = texts[:100] + ["qqq", ""], y[:100] + [["t1"], ["t2"]]
    assert max(map(len, model.predict(ev_texts))) > 1 / 0.02 / 2  # many labels pass
    dense = evaluate(model, ev_texts, ev_y)
    monkeypatch.setattr(ranked_mod, "DENSE_REPORT_BYTES", 0)
    ranked = evaluate(model, ev_texts, ev_y)
    assert ranked.accuracy == dense.accuracy
    assert ranked.hamming_loss == pytest.approx(dense.hamming_loss)
    assert ranked.micro == pytest.approx(dense.micro)
    assert ranked.label_cardinality == dense.label_cardinality


def test_write_misclassified_from_ranked_predictions(tmp_path):
    classes = ["a", "b", "c"]
    ranked = Ranked(np.array([[1, 0], [2, 1]]), np.array([[0.7, 0.2], [0.5, 0.4]]))
    path = tmp_path / "errors.csv"
    n = write_misclassified(path, ["x y", "z"], ["a", "a"], ["b", "c"], ranked, classes)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert n == 2 and lines[1] == "0,x y,a,b,0.7,0.2" and lines[2] == "1,z,a,c,0.5,"


def test_sparse_multilabel_targets_stay_sparse_and_train_the_same_model():
    rng = np.random.default_rng(5)
    X = sp.csr_array(rng.poisson(0.3, size=(120, 40)).astype(np.float32))
    Y = (rng.random((120, 6)) < 0.3).astype(np.int64)
    Y[:, 0] = 1 - Y[:, 1]  # every label occurs, every row has one
    y_arr, multilabel = read_targets(sp.csr_array(Y))
    assert multilabel and sp.issparse(y_arr)
    for loss in ("hs", "ova"):
        dense = BowClassifier(loss=loss, epochs=3, random_state=0).fit(X, Y)
        sparse = BowClassifier(loss=loss, epochs=3, random_state=0).fit(X, sp.csr_array(Y))
        assert np.array_equal(dense.B_, sparse.B_) and np.array_equal(dense.A_, sparse.A_)
    with pytest.raises(ValueError, match="indicator"):
        read_targets(sp.csr_array(np.array([[0, 2], [1, 0]])))


def test_text_classifier_label_sets_are_encoded_sparse():
    texts, y = _tag_texts(8, 80, seed=4, multilabel=True)
    model = TextClassifier(epochs=2, random_state=0)
    assert sp.issparse(model._encode_y(y, fit=True))
    model.fit(texts, y)
    assert model.score(texts, y) >= 0.0


def test_cli_evaluate_of_many_classes_writes_html_and_misclassified(tmp_path, monkeypatch):
    texts, y = _tag_texts(30, 300, seed=6)
    texts[:40] = [f"w{k} v{k} n1" for k in range(40, 80)]  # words unseen: some errors
    model = TextClassifier(loss="hs", epochs=5, lr=0.5, random_state=0).fit(texts[40:], y[40:])
    save(model, tmp_path / "m.bowclf")
    (tmp_path / "t.csv").write_text(
        "label,text\n" + "".join(f"{lab},{t}\n" for lab, t in zip(y, texts, strict=True)),
        encoding="utf-8",
    )
    monkeypatch.setattr(ranked_mod, "DENSE_REPORT_BYTES", 0)
    monkeypatch.setattr(ranked_mod, "SUMMARY_CLASSES", 10)
    html, bad = tmp_path / "r.html", tmp_path / "bad.csv"
    args = ["evaluate", tmp_path / "m.bowclf", tmp_path / "t.csv", "--json"]
    result = CliRunner().invoke(
        cli, [str(a) for a in args + ["--html", html, "--misclassified", bad]]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    others = len(model.classes_) - 10
    assert report["per_class_omitted"]["n_classes"] == others and report["log_loss"] is None
    errors = sum(p != t for p, t in zip(model.predict(texts), y, strict=True))
    assert errors > 0 and len(bad.read_text(encoding="utf-8").splitlines()) == errors + 1
    assert f"{others} other classes (mean)" in html.read_text(encoding="utf-8")
