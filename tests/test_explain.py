"""Exact explanations (bowclf/explain.py): Σ contributions = score for every loss, feature
names against the vectorizer, model-level views and the explain/neighbors/info CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import TICKET_ROWS, make_texts, write_named_columns_csv

from bowclf import TextClassifier
from bowclf.cli import cli
from bowclf.explain import (
    contributions,
    document_occurrences,
    explanation_html,
    explanations_page,
    linear_heads,
    neighbors,
    top_features,
)
from bowclf.persist import save

SMALL = {"dim": 8, "epochs": 4, "random_state": 0, "buckets": 5000}
TRICKY = [
    "The match, the GOAL!! and the coach's team",
    "don't bake — l'homme’s oven; state-of-the-art recipe 😀 x",
    "<script>alert('x')</script> server crash",
    "",
    "unknownword anotherone",
]


@pytest.fixture(scope="module")
def corpus():
    tr, y = make_texts(300, seed=0)
    te, _ = make_texts(40, seed=1)
    return tr, y, te + TRICKY


def _multilabel(y):
    return [(lab,) + (("extra",) if i % 3 == 0 else ()) for i, lab in enumerate(y)]


CASES = {
    "softmax": ({}, False),
    "ova": ({"loss": "ova"}, False),
    "softmax-multilabel": ({}, True),
    "ova-multilabel": ({"loss": "ova"}, True),
    "subwords-trigrams": ({"minn": 2, "maxn": 4, "ngrams": 3}, False),
    "raw-sublinear-l2": (
        {"normalize": "l2", "sublinear_tf": True, "use_idf": False, "lr": 0.1},
        False,
    ),
    "unnormalised-unpruned": ({"normalize": None, "prune_features": False, "lr": 0.02}, False),
    "binary": ({}, "binary"),
}


def _fit(corpus, params, labels):
    tr, y, _ = corpus
    if labels is True:
        y = _multilabel(y)
    elif labels == "binary":
        y = ["sports" if lab == "sports" else "other" for lab in y]
    return TextClassifier(**{**SMALL, **params}).fit(tr, y)


@pytest.fixture(scope="module", params=list(CASES))
def model(request, corpus):
    params, labels = CASES[request.param]
    return _fit(corpus, params, labels)


def _model_scores(model, texts):
    """The model's own class scores (n×c), from its public decision function."""
    S = model.decision_function(texts)
    if S.ndim == 1:  # binary: s1 - s0; the per-class scores come from the embeddings
        return model.transform(texts).astype(np.float32) @ model.classifier_.B_.T
    return S


def test_contributions_sum_to_the_model_score(model, corpus):
    texts = corpus[2]
    c = len(model.classes_)
    explanations = model.explain(texts, k=c)
    S = np.asarray(_model_scores(model, texts), np.float64)
    P = model.predict_proba(texts)
    classes = list(model.classes_)
    worst = 0.0
    for i, ex in enumerate(explanations):
        assert len(ex.classes) == c
        assert [ce.probability for ce in ex.classes] == sorted(
            (ce.probability for ce in ex.classes), reverse=True
        )
        for ce in ex.classes:
            k = classes.index(ce.label)
            assert ce.score == pytest.approx(S[i, k], rel=1e-6, abs=1e-7)
            assert ce.probability == pytest.approx(P[i, k], rel=1e-12)
            total = ce.contributions.sum()
            scale = max(abs(ce.score), np.abs(ce.contributions).sum(), 1e-30)
            worst = max(worst, abs(total - ce.score) / scale)
            # token attributions partition the contributions
            assert ce.token_contributions.sum() + ce.unattributed == pytest.approx(total, abs=1e-9)
            assert ce.unattributed == 0.0
    assert worst <= 1e-5


def test_binary_decision_function_is_a_difference_of_explained_scores(corpus):
    model = _fit(corpus, {}, "binary")
    texts = corpus[2]
    d = model.decision_function(texts)
    classes = list(model.classes_)
    for i, ex in enumerate(model.explain(texts, k=2)):
        s = {ce.label: ce.contributions.sum() for ce in ex.classes}
        assert s[classes[1]] - s[classes[0]] == pytest.approx(d[i], abs=1e-5)


def test_every_feature_is_named_by_the_documents_ngrams(model, corpus):
    vec = model.vectorizer_
    for text in corpus[2]:
        expected = set(np.flatnonzero(vec.transform([text]).toarray()[0]).tolist())
        found = {o.column for o in document_occurrences(vec, vec.tokenize(text))}
        assert found == expected, text
    ex = model.explain(corpus[2])
    names = [f for e in ex for f in e.features]
    assert names and not any(n.startswith("ngram#") for n in names)


@pytest.mark.parametrize(
    "params",
    [
        {"ngrams": 3, "minn": 1, "maxn": 3},
        {"tokenizer": "whitespace", "lowercase": False, "ngrams": 2},
        {"ngrams": 1},
    ],
)
def test_occurrence_columns_match_the_vectorizer(corpus, params):
    from bowclf import BowVectorizer

    vec = BowVectorizer(buckets=997, **params).fit(corpus[0])
    for text in corpus[2] + ["é ü 北京 ok ok", "a b a b a"]:
        occ = document_occurrences(vec, vec.tokenize(text))
        counts = vec.transform([text]).toarray()[0]
        got = np.bincount([o.column for o in occ], minlength=counts.size)
        np.testing.assert_array_equal(got, counts)


def test_names_show_bigrams_and_subwords(corpus):
    model = _fit(corpus, {"minn": 3, "maxn": 3}, False)
    a, b, c = corpus[0][0].split()[:3]  # a training document's bigrams are kept features
    (ex,) = model.explain([f"{a} {b} {c}"])
    assert f"{a} {b}" in ex.features and f"{b} {c}" in ex.features
    assert any(f"<{a[:2]}" in n.split(" | ") for n in ex.features)


def test_requested_labels_and_errors(corpus):
    model = _fit(corpus, {}, False)
    (ex,) = model.explain(["goal match"], labels=["tech", "food"])
    assert [ce.label for ce in ex.classes] == ["tech", "food"]
    assert len(model.explain(["goal"], k=99)[0].classes) == 3
    with pytest.raises(ValueError, match="unknown label"):
        model.explain(["goal"], labels=["nope"])
    with pytest.raises(ValueError, match="k must be"):
        model.explain(["goal"], k=0)
    with pytest.raises(ValueError, match="single string"):
        model.explain("goal")


def test_nonlinear_losses_are_refused():
    class HS:
        loss = "hs"
        B_ = np.zeros((2, 2))

    with pytest.raises(ValueError, match="linear"):
        linear_heads(HS())


def test_contributions_formula():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(4, 10)), rng.normal(size=(3, 4))
    cols, vals = np.array([1, 5, 7]), np.array([0.2, 0.5, 0.3])
    x = np.zeros(10)
    x[cols] = vals
    C = contributions(vals, cols, A, B)
    np.testing.assert_allclose(C.sum(axis=1), B @ A @ x, rtol=1e-12)
    np.testing.assert_allclose(C[:, 1], vals[1] * (B @ A[:, 5]), rtol=1e-12)


@pytest.mark.parametrize("loss", ["softmax", "hs"])
def test_top_features_are_the_most_probable_one_word_documents(corpus, loss):
    """For every loss: they need only probabilities (hs was refused: 'explanations are exact
    for linear scores'); the score is decision_function's (for hs, the log-probability)."""
    model = _fit(corpus, {"ngrams": 1, "loss": loss}, False)
    table = top_features(model, 3)
    assert set(table) == set(model.classes_)
    for label, rows in table.items():
        k = list(model.classes_).index(label)
        probs = [p for _, p, _ in rows]
        assert probs == sorted(probs, reverse=True)
        for name, p, s in rows:
            # float32 scores: summation orders differ by ~1e-7, so p by up to ~1e-7·(1 − p)
            assert model.predict_proba([name])[0, k] == pytest.approx(p, rel=1e-6)
            assert model.decision_function([name])[0, k] == pytest.approx(s, rel=1e-6)
        # nothing outside the list beats it
        words = list(model.vectorizer_.vocabulary_)
        assert model.predict_proba(words)[:, k].max() == pytest.approx(probs[0], rel=1e-6)
    assert set(table["sports"][0][0].split()) <= set(
        "match team goal score coach league season player win referee stadium cup".split()
    )


def test_neighbors_by_cosine(corpus):
    model = _fit(corpus, {}, False)
    got = neighbors(model, "goal", 5)
    words = list(model.vectorizer_.vocabulary_)
    H = model.transform(words).astype(np.float64)
    q = model.transform(["goal"])[0].astype(np.float64)
    cos = H @ q / (np.linalg.norm(H, axis=1) * np.linalg.norm(q))
    cos[words.index("goal")] = -np.inf
    best = np.argsort(-cos, kind="stable")[:5]
    assert [w for w, _ in got] == [words[i] for i in best]
    np.testing.assert_allclose([s for _, s in got], cos[best], rtol=1e-9)
    with pytest.raises(ValueError, match="no feature"):
        neighbors(model, "zzzzqqq", 3)


def test_neighbors_never_list_the_querys_own_tokens(corpus, tmp_path):
    """'goal!' listed 'goal' first (cosine ~1): only a query of exactly one token was left
    out.  A query of several tokens is embedded as that document (documented), and none of
    its tokens is listed."""
    model = _fit(corpus, {}, False)
    words = list(model.vectorizer_.vocabulary_)
    H = model.transform(words).astype(np.float64)
    H /= np.linalg.norm(H, axis=1, keepdims=True)
    for query, own in (("goal!", {"goal"}), ("GOAL", {"goal"}), ("goal match", {"goal", "match"})):
        got = neighbors(model, query, 5)
        assert not own & {w for w, _ in got}
        q = model.transform([query])[0].astype(np.float64)
        cos = H @ (q / np.linalg.norm(q))
        cos[[words.index(w) for w in own]] = -np.inf
        best = np.argsort(-cos, kind="stable")[:5]
        assert [w for w, _ in got] == [words[i] for i in best]
    path = save(model, tmp_path / "m.bowclf")
    js = json.loads(_run("neighbors", path, "goal match", "-n", "3", "--json").stdout)
    assert js == [[w, s] for w, s in neighbors(model, "goal match", 3)]


def test_html_escapes_and_highlights(corpus):
    model = _fit(corpus, {}, False)
    ex = model.explain(["<i>goal</i> & match"], k=2)
    frag = explanation_html(ex[0])
    assert "<i>" not in frag and "</i>" not in frag
    assert "&lt;" in frag and "&amp;" in frag
    assert 'style="background:rgba(' in frag and ">goal</span>" in frag
    page = explanations_page(ex, title="T <x>")
    assert page.startswith("<!DOCTYPE html>") and "T &lt;x&gt;" in page
    assert page.count('class="bx-doc"') == 2 and "<script" not in page


# ---------------------------------------------------------------------- command line
def _run(*args, input=None):
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    assert result.exit_code == 0, (result.output, result.stderr)
    return result


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, corpus) -> tuple[Path, TextClassifier]:
    model = _fit(corpus, {}, False)
    path = tmp_path_factory.mktemp("explain") / "m.bowclf"
    save(model, path)
    from bowclf.persist import load

    return path, load(path)


def test_cli_explain_text_json_html(model_file, tmp_path):
    path, model = model_file
    docs = ["goal match team coach", "bake the oven <b>now</b>"]
    api = model.explain(docs, k=2)
    out = _run("explain", path, "-k", "2", "--top", "3", input="\n".join(docs) + "\n").stdout
    for ex in api:
        for ce in ex.classes:
            assert f"  {ce.label}  p {ce.probability:.4f}  score {ce.score:+.4f}" in out
            terms = "  ".join(f"{ex.features[j]} {v:+.4f}" for j, v in ce.top(3))
            assert f"    + {terms}" in out
    js = _run("explain", path, "-k", "2", "--top", "3", "--json", input="\n".join(docs)).stdout
    assert [json.loads(line) for line in js.splitlines()] == [
        json.loads(json.dumps(e.to_dict(top=3))) for e in api
    ]
    html_path = tmp_path / "e.html"
    _run("explain", path, "--label", "food", "--html", html_path, input=docs[1])
    page = html_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and ">oven</span>" in page
    assert "<b>now" not in page and "&lt;</span>" in page


def test_a_document_without_known_words_explains_the_class_predict_returns(model, corpus):
    docs = ["", "qqqzzz"]
    explained = [ex.classes[0].label for ex in model.explain(docs)]
    if model.multilabel_:  # no single prediction: the most probable labels, in order
        assert len(explained) == 2
        return
    assert explained == model.predict(docs).tolist()


@pytest.mark.parametrize("loss", ["softmax", "ova"])
def test_explained_classes_come_in_predict_topks_order(loss):
    """The classes explained are predict_topk's, in its order, for every document: a
    multi-label document without a known word explained the first class (uniform scores)
    where predict and predict_topk give the most frequent label."""
    texts, y = make_texts(300, seed=3)
    sets = [(lab,) if i % 3 else (lab, "sports") for i, lab in enumerate(y)]
    for target in (y, sets):
        m = TextClassifier(loss=loss, dim=8, epochs=2, random_state=0).fit(texts, target)
        docs = ["", "qqqzzz", *texts[:20]]
        ranked = [[lab for lab, _ in row] for row in m.predict_topk(docs, k=3)]
        explained = [[c.label for c in ex.classes] for ex in m.explain(docs, k=3)]
        assert explained == ranked, (loss, m.multilabel_)


def test_cli_explain_reads_its_input_as_predict_does(tmp_path):
    """Piped CSV, and the text column `fit` read, as `bowclf predict` reads them."""
    corpus = write_named_columns_csv(tmp_path / "m.csv")
    path = tmp_path / "m.bowclf"
    _run("fit", "-q", corpus, "--text-column", "msg", "--label-column", "cat", "-o", path)
    from_file = _run("explain", path, corpus, "--json").stdout.splitlines()
    assert [json.loads(line)["text"] for line in from_file] == [t for _, t in TICKET_ROWS * 10]
    piped = CliRunner().invoke(cli, ["explain", str(path), "--json"], input=corpus.read_text())
    assert piped.exit_code == 0 and piped.stdout.splitlines() == from_file
    assert "note: <stdin>: read as csv" in piped.stderr


def test_cli_explain_all_features_and_errors(model_file):
    path, model = model_file
    js = _run("explain", path, "--top", "0", "--json", input="goal match\n").stdout
    d = json.loads(js)
    (ex,) = model.explain(["goal match"])
    assert len(d["classes"][0]["features"]) == len(ex.features)
    assert d["classes"][0]["contribution_sum"] == pytest.approx(d["classes"][0]["score"])
    bad = CliRunner().invoke(cli, ["explain", str(path), "--label", "nope"], input="x\n")
    assert bad.exit_code == 1 and "unknown label" in bad.stderr


def test_cli_neighbors_and_top_features(model_file):
    path, model = model_file
    js = json.loads(_run("neighbors", path, "goal", "-n", "4", "--json").stdout)
    assert js == [[w, s] for w, s in neighbors(model, "goal", 4)]
    text = _run("neighbors", path, "goal", "-n", "4").stdout
    assert text.splitlines()[0].split()[0] == js[0][0]
    info = _run("info", path, "--top-features", "2").stdout
    table = top_features(model, 2)
    for label, rows in table.items():
        assert f"  {label}: " + ", ".join(f"{n} {p:.3f}" for n, p, _ in rows) in info
    data = json.loads(_run("info", path, "--json", "--top-features", "2").stdout)
    assert data["top_features"] == {str(k): [[n, p, s] for n, p, s in v] for k, v in table.items()}


def test_cli_top_features_of_a_hierarchical_softmax_model(corpus, tmp_path):
    model = _fit(corpus, {"loss": "hs"}, False)
    path = save(model, tmp_path / "hs.bowclf")
    info = _run("info", path, "--top-features", "2").stdout
    for label, rows in top_features(model, 2).items():
        assert f"  {label}: " + ", ".join(f"{n} {p:.3f}" for n, p, _ in rows) in info


def test_confusion_explainer_explains_predicted_then_true_label(corpus):
    from bowclf.explain import confusion_explainer
    from bowclf.report import evaluate

    tr, y, _ = corpus
    model = _fit(corpus, {}, False)
    texts, labels = make_texts(120, seed=7, noise=0.3)
    report = evaluate(model, texts, labels)
    explain = confusion_explainer(model, top=3)
    conf = next(c for c in report.confusions if c.examples)
    example = conf.examples[0]
    frag = explain(example, conf)
    assert frag.count('class="bx-doc"') == 2
    assert frag.index(f"<b>{conf.pred}</b>") < frag.index(f"<b>{conf.true}</b>")
    (ex,) = model.explain([example.text], labels=[conf.pred])
    assert f"score {ex.classes[0].score:+.4f}" in frag


def test_evaluate_html_report_explains_the_top_confusions(tmp_path):
    """Each example of the most frequent confusions carries its exact explanation."""
    texts = ["good great fine", "bad awful poor", "good bad", "great awful"] * 10
    labels = ["pos", "neg", "pos", "neg"] * 10
    model = TextClassifier(dim=4, epochs=2, random_state=0).fit(texts, labels)
    path = tmp_path / "m.bowclf"
    save(model, path)
    test = tmp_path / "test.csv"
    test.write_text("label,text\nneg,good great fine\npos,bad awful poor\n", encoding="utf-8")
    html = tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["evaluate", str(path), str(test), "--html", str(html)])
    assert result.exit_code == 0, result.output
    page = html.read_text(encoding="utf-8")
    fragment = explanation_html(model.explain(["good great fine"], labels=["pos"])[0], top=5)
    assert fragment and fragment in page
