"""The CLI's deferred imports (bowclf.cli.deferred_imports) and the class rule that lets a
single-label fit skip sklearn.preprocessing (bowclf.targets.fit_classes)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.preprocessing import LabelEncoder

from bowclf.cli import deferred_imports
from bowclf.targets import fit_classes, label_set_binarizer


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package ``deferpkg`` whose submodule ``sub`` counts its executions in the parent."""
    root = tmp_path / "deferpkg"
    root.mkdir()
    (root / "__init__.py").write_text("RUNS = []\n")
    (root / "sub.py").write_text(
        textwrap.dedent(
            """
            import deferpkg
            deferpkg.RUNS.append("sub")
            VALUE = 42
            def double(x):
                return 2 * x
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "deferpkg"
    for name in [m for m in sys.modules if m == "deferpkg" or m.startswith("deferpkg.")]:
        del sys.modules[name]


def test_a_deferred_module_runs_on_first_attribute_read(package):
    import deferpkg

    deferred_imports.defer(("deferpkg.sub",))
    import deferpkg.sub  # an import statement passes the stand-in by

    assert deferpkg.RUNS == []
    from deferpkg.sub import VALUE  # a name read loads the real module, once

    assert VALUE == 42 and deferpkg.RUNS == ["sub"]
    stand_in = sys.modules["deferpkg.sub"]
    assert not isinstance(stand_in, deferred_imports._StandIn)
    assert deferpkg.sub is stand_in and deferpkg.sub.double(4) == 8
    assert deferpkg.RUNS == ["sub"]


def test_a_kept_reference_to_the_stand_in_forwards(package):
    deferred_imports.defer(("deferpkg.sub",))
    kept = sys.modules["deferpkg.sub"]
    assert isinstance(kept, deferred_imports._StandIn)
    assert kept.double(3) == 6  # loads through the stand-in
    assert kept.VALUE == 42 and "VALUE" in dir(kept)
    assert sys.modules["deferpkg"].RUNS == ["sub"]


def test_defer_leaves_imported_and_unknown_modules_alone(package):
    import deferpkg.sub

    deferred_imports.defer(("deferpkg.sub", "deferpkg.no_such_module"))
    assert sys.modules["deferpkg.sub"] is deferpkg.sub
    assert "deferpkg.no_such_module" not in sys.modules


def test_cli_fit_and_predict_do_not_load_scipy_stats(tmp_path):
    """``bowclf fit``/``predict`` (single labels) run without scipy.stats and
    sklearn.preprocessing, which the CLI's process does not need."""
    corpus = tmp_path / "c.csv"
    rows = [f"{'ab'[i % 2]},word{i % 7} other{i % 3} text" for i in range(60)]
    corpus.write_text("label,text\n" + "\n".join(rows) + "\n")
    model = tmp_path / "m.bowclf"
    code = (
        "import atexit, sys\n"
        "heavy = ('scipy.optimize', 'scipy.interpolate', 'sklearn.preprocessing')\n"
        "atexit.register(lambda: print('LOADED', *[m for m in heavy if m in sys.modules]))\n"
        "from bowclf.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    for args in (
        ["fit", str(corpus), "-o", str(model), "--quiet", "--seed", "0"],
        ["predict", str(model), str(corpus)],
    ):
        proc = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines()[-1] == "LOADED", proc.stdout[-300:]


@pytest.mark.parametrize(
    "y",
    [
        np.array(["b", "a", "c", "a"]),
        np.array([3, 1, 2, 3, 1]),
        np.array([0.5, -1.0, 0.5]),
        np.array(["x", "y", "x"], dtype=object),
        np.array([True, False, True]),
    ],
)
def test_fit_classes_sorts_as_label_encoder(y):
    expected = LabelEncoder().fit(y).classes_
    got = fit_classes(y)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_fit_classes_with_given_classes():
    got = fit_classes(np.array(["a", "b"]), classes=["c", "b", "a"])
    np.testing.assert_array_equal(got, ["a", "b", "c"])
    with pytest.raises(ValueError, match="not in `classes`"):
        fit_classes(np.array(["a", "z"]), classes=["a", "b"])
    with pytest.raises(ValueError):
        fit_classes(np.array(["a", "a"]))  # one class


def test_label_set_binarizer():
    fitted = label_set_binarizer(["b", "a"])
    assert fitted.classes_.tolist() == ["b", "a"]
    assert fitted.transform([("a",), ("b", "a")]).toarray().tolist() == [[0, 1], [1, 1]]
    fresh = label_set_binarizer()
    assert fresh.fit_transform([("x",), ("y",)]).shape == (2, 2)
