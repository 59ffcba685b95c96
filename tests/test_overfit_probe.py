"""The early-overfitting probe: a hashed slice held out of the first passes, and the restart."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import (
    make_class_word_texts,
    make_texts,
    make_two_class_texts,
    write_label_text_csv,
)
from scipy.special import log_softmax

from bowclf import TextClassifier
from bowclf import overfit_probe as op
from bowclf.auto_rules import probes_overfitting
from bowclf.optim import AdaGrad, Adaptive
from bowclf.training import fill_initial, initial_parameters


def _counts(n: int = 400, p: int = 60, seed: int = 0) -> sp.csr_array:
    X = sp.random(n, p, density=0.1, random_state=seed, format="csr", dtype=np.float32)
    X.data[:] = np.random.default_rng(seed).integers(1, 4, X.nnz)
    return sp.csr_array(X)


def test_a_rows_hash_depends_on_its_entries_only():
    X = _counts()
    h = op.row_hashes(X, salt=5)
    assert h.dtype == np.uint64 and h.shape == (X.shape[0],)
    # any block, row order, entry order or index dtype gives each row its hash
    order = np.random.default_rng(1).permutation(X.shape[0])
    np.testing.assert_array_equal(op.row_hashes(X[order], 5), h[order])
    np.testing.assert_array_equal(op.row_hashes(X[10:17], 5), h[10:17])
    shuffled = X.copy()
    for i in range(shuffled.shape[0]):  # entries of each row reversed
        a, b = shuffled.indptr[i], shuffled.indptr[i + 1]
        shuffled.indices[a:b] = shuffled.indices[a:b][::-1].copy()
        shuffled.data[a:b] = shuffled.data[a:b][::-1].copy()
    shuffled.has_sorted_indices = False
    np.testing.assert_array_equal(op.row_hashes(shuffled, 5), h)
    wide = sp.csr_array((X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)), X.shape)
    np.testing.assert_array_equal(op.row_hashes(wide, 5), h)
    # equal rows hash alike; other rows, values or salts do not (here: all distinct)
    distinct = np.unique(X.toarray(), axis=0).shape[0]
    assert np.unique(h).size == distinct
    X2 = X.copy()
    X2.data[0] += 1
    assert op.row_hashes(X2, 5)[0] != h[0] and (op.row_hashes(X2, 5)[1:] == h[1:]).all()
    assert (op.row_hashes(X, 6) != h).all()
    assert op.row_hashes(sp.csr_array((3, 4), dtype=np.float32), 5).shape == (3,)


def _mix_reference(z: int) -> int:
    """SplitMix64's finaliser on one Python int (modulo 2⁶⁴ by masking)."""
    m = (1 << 64) - 1
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def test_row_hashes_are_the_formula_computed_one_entry_at_a_time():
    """``h_i = mix(salt ⊕ Σ_j mix(j·φ ⊕ bits(x_ij)))`` in Python integers; the matrix has
    empty rows (first, inside and last) and a salt wider than 64 bits is cut to 64."""
    import struct

    X = _counts(60, 40, seed=3).toarray()
    X[[0, 7, 59]] = 0
    X[5, :] = -2.5
    X = sp.csr_array(X)
    m, phi = (1 << 64) - 1, 0x9E3779B97F4A7C15
    for salt in (5, (1 << 70) + 9):
        want = []
        for i in range(X.shape[0]):
            total = 0
            for k in range(X.indptr[i], X.indptr[i + 1]):
                bits = struct.unpack("<I", struct.pack("<f", float(X.data[k])))[0]
                total = (total + _mix_reference(((int(X.indices[k]) * phi) & m) ^ bits)) & m
            want.append(_mix_reference(total ^ (salt & m)))
        assert op.row_hashes(X, salt).tolist() == want


def test_the_held_out_share_is_the_fraction():
    X = sp.csr_array(sp.random(20000, 500, density=0.01, random_state=2, format="csr"))
    for fraction in (0.05, 0.1, 0.5):
        share = op.held_out(X, 11, fraction).mean()
        assert abs(share - fraction) < 4 * np.sqrt(fraction * (1 - fraction) / 20000)


@pytest.mark.parametrize(
    ("rule", "second", "fresh"),
    [
        (op.MULTICLASS, 1.10, 2), (op.MULTICLASS, 1.0, 2), (op.MULTICLASS, 0.99, 2),
        (op.MULTICLASS, 0.9801, 2), (op.MULTICLASS, 0.979, None), (op.MULTICLASS, 0.5, None),
        (op.BINARY, 1.10, 3), (op.BINARY, 0.97, 3), (op.BINARY, 0.9601, 3),
        (op.BINARY, 0.959, 5), (op.BINARY, 0.5, 5),
    ],
)  # fmt: skip
def test_a_run_restarts_unless_the_slices_loss_fell_by_min_fall(monkeypatch, rule, second, fresh):
    """The slice's loss after the last probe pass against the first: a rise, no change or a
    fall of less than the rule's ``min_fall`` (2 %; two classes 4 %) restarts the run with
    the rule's fresh passes (2; 3); a larger fall lets a multi-class run go on and starts a
    two-class run over with its whole schedule (5 passes)."""
    assert (op.MULTICLASS.min_fall, op.BINARY.min_fall) == (0.02, 0.04)
    assert op.rule_for(2) is op.BINARY and op.rule_for(3) is op.rule_for(20) is op.MULTICLASS
    losses = iter([1.0, second])
    monkeypatch.setattr(op, "slice_log_loss", lambda *a: next(losses))
    probe = op.OverfitProbe(1000, np.random.default_rng(0), rule=rule)
    X = _counts(20, 10)
    probe.add_rows(X, sp.csr_array(np.eye(2, dtype=np.float32)[np.arange(20) % 2]))
    W, B = np.zeros((10, 3), np.float32), np.zeros((2, 3), np.float32)
    assert probe.after_pass(W, B, 5) is None and probe.holding
    assert probe.after_pass(W, B, 5) == fresh
    assert probe.overfitting is (fresh == rule.restart_passes)
    assert not probe.holding and probe.losses == [1.0, second]


def test_an_empty_slice_lets_the_run_go_on():
    probe = op.OverfitProbe(1000, np.random.default_rng(0), rule=op.BINARY)
    W, B = np.zeros((10, 3), np.float32), np.zeros((2, 3), np.float32)
    assert probe.after_pass(W, B, 5) is None and probe.after_pass(W, B, 5) is None
    assert not probe.holding and not probe.overfitting and probe.losses == [0.0, 0.0]


def test_the_slices_log_loss_is_the_mean_softmax_log_loss():
    X = _counts(50)
    rng = np.random.default_rng(3)
    W = rng.normal(size=(X.shape[1], 7)).astype(np.float32)
    B = rng.normal(size=(4, 7)).astype(np.float32)
    codes = rng.integers(0, 4, X.shape[0])
    S = X.toarray().astype(np.float64) @ W.astype(np.float64) @ B.T.astype(np.float64)
    want = -log_softmax(S, axis=1)[np.arange(codes.size), codes].mean()
    assert op.slice_log_loss(X, codes, W, B) == pytest.approx(want, rel=1e-6)


def test_which_runs_are_probed():
    task = {"multilabel": False, "loss": "softmax", "optimizer": "adaptive", "normalize": "l1"}
    assert probes_overfitting("auto", 5000, 5, **task)
    assert probes_overfitting("auto", 2000, 3, **task)
    assert not probes_overfitting("auto", 1999, 5, **task)  # a slice too small to compare
    assert not probes_overfitting(10, 5000, 5, **task)  # the user's number of passes
    # two classes of short documents, 2,000 to 15,000 of them
    assert probes_overfitting("auto", 2000, 2, **task)
    assert probes_overfitting("auto", 15000, 2, **task)
    assert not probes_overfitting("auto", 15001, 2, **task)
    assert not probes_overfitting("auto", 1999, 2, **task)
    assert not probes_overfitting(5, 5000, 2, **task)
    assert not probes_overfitting("auto", 5000, 2, **{**task, "normalize": "l2"})  # long ones
    assert not probes_overfitting("auto", 25000, 5, **task)  # 'auto' gives 8 passes
    assert probes_overfitting("auto", 20000, 5, **task)  # 10 passes
    assert probes_overfitting("auto", 15000, 5, **{**task, "normalize": "l2"})  # 14 passes
    for other in ({"multilabel": True}, {"loss": "ova"}, {"loss": "hs"}, {"optimizer": "sgd"}):
        assert not probes_overfitting("auto", 5000, 5, **{**task, **other})
        assert not probes_overfitting("auto", 5000, 2, **{**task, **other})


def test_fill_initial_is_the_first_draw_in_place():
    rng, A_init = np.random.default_rng(4), (np.array([2]), [[1.0] * 8])
    W, B = initial_parameters(70000, 8, (3, 8), np.random.default_rng(4), A_init)
    seed = int(rng.integers(2**63))
    W2, B2 = np.full_like(W, 7.0), np.full_like(B, 7.0)
    fill_initial(W2, B2, seed, A_init, n_jobs=2)
    np.testing.assert_array_equal(W2, W)
    np.testing.assert_array_equal(B2, B)
    assert (W[2] == 1).all() and (B == 0).all()


@pytest.mark.parametrize("optimizer", [AdaGrad(), Adaptive(margin=2.0, lr=0.35)])
def test_an_optimisers_restart_clears_its_state(optimizer):
    W, B = np.zeros((5, 3), np.float32), np.zeros((4, 3), np.float32)
    optimizer.start(W, B)
    for acc in (optimizer.A_accumulator, optimizer.B_accumulator):
        if acc is not None:
            acc += 3.0
    optimizer.restart(W, B)
    state = optimizer.state()
    kept = (
        {"B_accumulator"} if isinstance(optimizer, Adaptive) else {"A_accumulator", "B_accumulator"}
    )
    assert state.keys() == kept and all((acc == 0).all() for acc in state.values())


@pytest.mark.parametrize(
    ("classes", "epochs", "fresh", "still_learning"),
    [(4, 10, 2, False), (2, 5, 3, False), (2, 5, 5, True)],
)
def test_a_restart_is_a_fresh_run_from_the_probes_seed(
    monkeypatch, classes, epochs, fresh, still_learning
):
    """After the probe passes the loop trains exactly what a new run of the rule's passes
    from the initial parameters of the probe's seed trains, with the run's generator where
    the probe passes left it: an overfitting run's two (multi-class) or three (two classes)
    fresh passes, or a two-class run still learning (its slice's loss made to halve) its
    whole five."""
    from bowclf.backends.memory import InMemoryData
    from bowclf.losses import get_loss
    from bowclf.optim import LinearDecay
    from bowclf.training import train

    n, p, lr = 2400, 300, 0.35
    X = _counts(n, p, seed=7)
    y = np.random.default_rng(7).integers(0, classes, n)  # no signal: overfit at once
    Y = sp.csr_array((np.ones(n, np.float32), y, np.arange(n + 1)), shape=(n, classes))
    loss = get_loss("softmax")
    if still_learning:
        losses = iter([1.0, 0.5])
        monkeypatch.setattr(op, "slice_log_loss", lambda *a: next(losses))

    def run(W, B, rng, epochs, probe=None):
        source = InMemoryData(X, Y, np.ones(n, np.float32), normalize="l1", loss=loss,
                              multilabel=False)  # fmt: skip
        return train(source, W, B, epochs=epochs, rng=rng, schedule=LinearDecay(lr, epochs * n),
                     loss=loss, batch_size=32, lr=lr, optimizer=Adaptive(margin=2.0, lr=lr),
                     probe=probe)  # fmt: skip

    gen = np.random.default_rng(0)
    W, B = initial_parameters(p, 16, (classes, 16), gen)
    probe = op.OverfitProbe(n, gen, rule=op.rule_for(classes))
    history = run(W, B, gen, epochs, probe)
    assert history.restart_epoch == 2 and history.n_iter == 2 + fresh
    assert probe.overfitting is not still_learning

    ref = np.random.default_rng(0)
    W2, B2 = initial_parameters(p, 16, (classes, 16), ref)
    ref.permutation(n), ref.permutation(n)  # the two probe passes' row orders
    fill_initial(W2, B2, probe.seed)
    run(W2, B2, ref, fresh)
    np.testing.assert_array_equal(W, W2)
    np.testing.assert_array_equal(B, B2)


def _noisy(n: int = 2400, seed: int = 3) -> tuple[list[str], list[str]]:
    """Three topics, 40 % of the labels drawn at random: overfit after a pass or two."""
    return make_texts(n, seed=seed, noise=0.4)


def _fit(model, X, y, **kw):
    events = []
    model.fit(X, y, callback=events.append, **kw)
    return model, [e for e in events if e["event"] == "restart"]


def test_an_overfitting_run_restarts_with_two_fresh_passes():
    X, y = _noisy()
    model, restarts = _fit(TextClassifier(random_state=0), X, y)
    clf = model.classifier_
    assert len(restarts) == 1
    first, last = restarts[0]["slice_losses"]
    assert last >= first and restarts[0]["epochs_run"] == 2 and restarts[0]["epochs"] == 4
    assert clf.n_iter_ == 4 and len(clf.loss_curve_) == 4
    assert clf.t_ == 4 * len(X)
    assert model.training_summary_["epochs"] == 4
    again, _ = _fit(TextClassifier(random_state=0), X, y)
    np.testing.assert_array_equal(again.classifier_.A_, clf.A_)
    np.testing.assert_array_equal(again.classifier_.B_, clf.B_)
    threads, _ = _fit(TextClassifier(random_state=0, n_jobs=2), X, y)
    np.testing.assert_array_equal(threads.classifier_.A_, clf.A_)


def test_the_restart_gains_on_an_overfitting_corpus():
    X, y = _noisy()
    Xt, yt = make_texts(1000, seed=9, noise=0.0)
    probed = TextClassifier(random_state=0).fit(X, y)
    plain = TextClassifier(random_state=0, epochs=10).fit(X, y)  # a number: not probed
    assert plain.classifier_.n_iter_ == 10
    assert probed.score(Xt, yt) > plain.score(Xt, yt) + 0.02


def _many_words(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Ten classes, half of each document's words of its class: most class words are seen a
    few times, so the passes keep learning."""
    return make_class_word_texts(n, seed, classes=10, share=0.5)


def test_a_run_still_learning_keeps_its_schedule():
    X, y = _many_words(3000, seed=1)
    model, restarts = _fit(TextClassifier(random_state=0), X, y)
    assert restarts == [] and model.classifier_.n_iter_ == 10
    assert model.classifier_.t_ == 10 * len(X)


def test_a_noisy_two_class_run_restarts_with_three_fresh_passes_and_gains():
    X, y = make_two_class_texts(2400, seed=0, flip=0.2)
    Xt, yt = make_two_class_texts(2000, seed=9, flip=0.0)
    model, restarts = _fit(TextClassifier(random_state=0), X, y)
    assert len(restarts) == 1 and restarts[0]["overfitting"] and restarts[0]["min_fall"] == 0.04
    first, last = restarts[0]["slice_losses"]
    assert last > 0.96 * first and restarts[0]["epochs_run"] == 2 and restarts[0]["epochs"] == 5
    assert model.classifier_.n_iter_ == 5 and model.classifier_.t_ == 5 * len(X)
    plain = TextClassifier(random_state=0, epochs=5).fit(X, y)  # a number: not probed
    assert model.score(Xt, yt) > plain.score(Xt, yt) + 0.015


def test_a_two_class_run_still_learning_starts_over_with_its_five_passes():
    X, y = make_two_class_texts(2400, seed=0, flip=0.0)
    model, restarts = _fit(TextClassifier(random_state=0), X, y)
    assert len(restarts) == 1 and not restarts[0]["overfitting"]
    first, last = restarts[0]["slice_losses"]
    assert last <= 0.96 * first and restarts[0]["epochs"] == 7
    assert model.classifier_.n_iter_ == 7 and model.classifier_.t_ == 7 * len(X)
    again, _ = _fit(TextClassifier(random_state=0, n_jobs=2), X, y)
    np.testing.assert_array_equal(again.classifier_.A_, model.classifier_.A_)
    # more than 15,000 documents, or long ones: not probed, five passes
    big, restarts = _fit(
        TextClassifier(random_state=0), *make_two_class_texts(15001, seed=1, flip=0.0)
    )
    assert restarts == [] and big.classifier_.n_iter_ == 5
    long, restarts = _fit(TextClassifier(random_state=0, normalize="l2"), X, y)
    assert restarts == [] and long.classifier_.n_iter_ == 5


def test_held_out_rows_do_not_train_during_the_probe_passes():
    """Each document has a column of its own: after a probe pass the held-out documents'
    columns keep their initial values, the others' moved."""
    from bowclf.backends.memory import InMemoryData
    from bowclf.losses import get_loss
    from bowclf.optim import LinearDecay
    from bowclf.training import prepare_counts, train

    n, shared = 3000, 20
    rng = np.random.default_rng(6)
    rows = np.repeat(np.arange(n), 4)
    cols = np.column_stack([np.arange(n), n + rng.integers(0, shared, (n, 3))]).ravel()
    X = sp.csr_array((np.ones(rows.size, np.float32), (rows, cols)), shape=(n, n + shared))
    X.sum_duplicates()
    y = rng.integers(0, 3, n)
    Y = sp.csr_array((np.ones(n, np.float32), y, np.arange(n + 1)), shape=(n, 3))
    gen = np.random.default_rng(0)
    W, B = initial_parameters(X.shape[1], 16, (3, 16), gen)
    start = W.copy()
    probe = op.OverfitProbe(n, gen)
    held = op.held_out(prepare_counts(X, "l1"), probe.salt, probe.fraction)
    assert 0.05 < held.mean() < 0.15
    loss = get_loss("softmax")
    source = InMemoryData(X, Y, np.ones(n, np.float32), normalize="l1", loss=loss,
                          multilabel=False)  # fmt: skip
    history = train(source, W, B, epochs=1, rng=gen, schedule=LinearDecay(0.5, n), loss=loss,
                    batch_size=32, lr=0.5, optimizer=Adaptive(), probe=probe)  # fmt: skip
    assert history.n_iter == 1 and probe.holding and len(probe.losses) == 1
    own = np.arange(n)
    np.testing.assert_array_equal(W[own[held]], start[own[held]])
    moved = (W[own[~held]] != start[own[~held]]).any(axis=1)
    assert moved.mean() > 0.97  # not those of the first batches, while B is still ~0


@pytest.mark.parametrize("clean_two_classes", [False, True])
def test_out_of_core_training_probes_and_restarts_alike(tmp_path, clean_two_classes):
    """An overfitting run (2 + 2 passes) and a two-class run still learning (2 + 5)."""
    from bowclf.stream import fit_stream

    X, y = make_two_class_texts(2400, seed=0, flip=0.0) if clean_two_classes else _noisy()
    passes = 7 if clean_two_classes else 4
    path = write_label_text_csv(tmp_path / "corpus.csv", X, y)
    events = []
    ooc = fit_stream(TextClassifier(random_state=0), path, block_docs=256, chunk_size=300,
                     cache_dir=tmp_path, callback=events.append)  # fmt: skip
    restarts = [e for e in events if e["event"] == "restart"]
    _, mem = _fit(TextClassifier(random_state=0), X, y)
    assert len(restarts) == 1 and ooc.classifier_.n_iter_ == passes
    assert ooc.training_summary_["epochs"] == passes
    assert restarts[0]["overfitting"] is mem[0]["overfitting"] is not clean_two_classes
    # the same documents held out, scored in the same order: the first pass's slice loss
    # differs only by the order the routes train in
    assert restarts[0]["slice_losses"][0] == pytest.approx(mem[0]["slice_losses"][0], abs=0.05)
    # early stopping chooses the passes itself: no probe
    events = []
    stopped = fit_stream(TextClassifier(random_state=0, early_stopping=True), path,
                         cache_dir=tmp_path, callback=events.append,
                         X_val=X[:300], y_val=y[:300])  # fmt: skip
    assert [e for e in events if e["event"] == "restart"] == []
    assert 1 <= len(stopped.classifier_.validation_scores_) == stopped.classifier_.n_iter_
    with pytest.raises(ValueError, match="early_stopping without X_val"):  # none held out
        fit_stream(TextClassifier(random_state=0, early_stopping=True), path)


@pytest.mark.parametrize("clean_two_classes", [False, True])
def test_the_cli_says_why_the_run_started_over_and_trains_the_api_model(
    tmp_path, clean_two_classes
):
    """An overfitting run (noisy topics: the slice's loss rose) and a two-class run still
    learning (it starts over with its five passes)."""
    from click.testing import CliRunner

    from bowclf import load
    from bowclf.cli import cli

    X, y = make_two_class_texts(2400, seed=0, flip=0.0) if clean_two_classes else _noisy()
    path = write_label_text_csv(tmp_path / "corpus.csv", X, y)
    out = tmp_path / "m.bowclf"
    result = CliRunner().invoke(cli, ["fit", str(path), "--seed", "0", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    model, restarts = _fit(TextClassifier(random_state=0), X, y)
    first, last = restarts[0]["slice_losses"]
    losses = f"({first:.4f} -> {last:.4f})"
    epochs = 7 if clean_two_classes else 4
    if clean_two_classes:
        why = f"fell by {1 - last / first:.1%} by epoch 2 {losses}, not overfitting"
        again = "training again from the start with every document"
    else:
        why, again = f"rose by epoch 2 {losses}", "training again from the start"
    said = f"the held-out slice's loss {why}: {again}, {epochs} epochs in all"
    assert said in result.stderr
    assert f"Trained {epochs} epochs on 2,400 documents" in result.stderr
    np.testing.assert_array_equal(load(out).classifier_.A_, model.classifier_.A_)


def test_the_cli_says_whether_the_slices_loss_rose_or_fell_too_little():
    from bowclf.cli.fit_command import restart_line

    info = {"epochs_run": 2, "epochs": 4, "slice_losses": [1.0893, 1.0765], "overfitting": True,
            "min_fall": 0.02}  # fmt: skip
    assert restart_line(info) == (
        "the held-out slice's loss fell by only 1.2% by epoch 2 (1.0893 -> 1.0765), less than "
        "2%: training again from the start, 4 epochs in all"
    )
    info["slice_losses"] = [0.4076, 0.4437]
    assert restart_line(info) == (
        "the held-out slice's loss rose by epoch 2 (0.4076 -> 0.4437): training again from "
        "the start, 4 epochs in all"
    )
    info.update(epochs=5, slice_losses=[0.3360, 0.3240], min_fall=0.04)
    assert restart_line(info) == (
        "the held-out slice's loss fell by only 3.6% by epoch 2 (0.3360 -> 0.3240), less than "
        "4%: training again from the start, 5 epochs in all"
    )
    info.update(epochs=7, slice_losses=[0.0805, 0.0530], overfitting=False)
    assert restart_line(info) == (
        "the held-out slice's loss fell by 34.2% by epoch 2 (0.0805 -> 0.0530), not overfitting: "
        "training again from the start with every document, 7 epochs in all"
    )
