"""The architecture rules of docs/architecture.md, checked on the source (``ast``, no imports).

Production code is every module under ``bowclf/`` (``tests/`` and ``bench/`` are not checked).

1. **The estimators own their fitted state.**  Outside the estimators' own modules
   (:data:`ESTIMATOR_MODULES`: ``classifier.py``, ``text.py``, ``vectorizer/estimator.py``),
   no module assigns a trailing-underscore attribute (``x.foo_ = …``, ``x.foo_ += …``,
   ``setattr(x, "foo_", …)``) of anything but ``self``: scikit-learn reserves that suffix for
   fitted state, and an object may set its own.  Nor does it call an estimator's private
   method (``model._fit_source(…)``; the private methods are those the estimator classes
   define, plus scikit-learn's ``_validate_params``) — except the model-file loader
   and the quantizer (:data:`LOADER_MAY_CALL`: ``_restore``, ``_with_parameters``,
   ``_with_features``, the estimators' own constructors from arrays).  Backends and
   entry points go through public methods (``TextClassifier.fit_backend``).
2. **Privacy stops at the package boundary.**  A package is a directory of ``bowclf/``.  A
   private name (``_name``, not a dunder) defined in a module may be imported — or read as
   ``module._name`` — only by modules of the same directory.  A private *module*
   (``bowclf/_math.py``, ``report/_layout.py``) belongs to its package and that package's
   subpackages, which may import it and its public names (``from bowclf._math import
   top_k`` in ``bowclf/report/``); its private names follow the rule above.
3. **Size.**  No production module over 900 lines; no function over 80 lines, counted
   from its ``def`` line to its last line (decorators, such as click options, excluded).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bowclf"
ESTIMATOR_MODULES = {"bowclf/classifier.py", "bowclf/text.py", "bowclf/vectorizer/estimator.py"}
#: The model-file module hands a file's contents to ``_restore``; the quantizer builds its
#: small model through the estimators' ``_with_parameters``/``_with_features``.
LOADER_MAY_CALL = {
    "bowclf/persist.py": {"_restore"},
    # quantize's small model is made by the estimators' own constructors from new arrays
    "bowclf/quantization.py": {"_with_parameters", "_with_features"},
}
MAX_MODULE_LINES = 900
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@functools.cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


@functools.cache
def _estimator_private_methods() -> frozenset[str]:
    names = {"_validate_params"}  # scikit-learn's, inherited by every estimator
    for rel in ESTIMATOR_MODULES:
        for node in ast.walk(_tree(ROOT / rel)):
            if isinstance(node, ast.ClassDef):
                names.update(
                    item.name
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                    and _private(item.name)
                )
    return frozenset(names)


def _fitted_state_writes(where: str, tree: ast.Module) -> list[str]:
    """Writes of trailing-underscore attributes of objects other than ``self``."""
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "setattr" and len(node.args) >= 2 and not _is_self(node.args[0]):
                name = node.args[1]
                if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                    found.append(f"{where}:{node.lineno}: setattr with a computed name")
                elif name.value.endswith("_") and not name.value.endswith("__"):
                    found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
        for target in targets:
            for sub in ast.walk(target):
                if (
                    isinstance(sub, ast.Attribute)
                    and sub.attr.endswith("_")
                    and not sub.attr.endswith("__")
                    and isinstance(sub.ctx, ast.Store)
                    and not _is_self(sub.value)
                ):
                    found.append(f"{where}:{node.lineno}: {ast.unparse(sub)} = …")
    return found


def _private_method_calls(where: str, tree: ast.Module) -> list[str]:
    """Uses of an estimator's private method on anything but ``self``."""
    private = _estimator_private_methods() - LOADER_MAY_CALL.get(where, set())
    return [
        f"{where}:{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in private and not _is_self(node.value)
    ]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(path: Path) -> str:
    """The package (dotted directory) a module file sits in."""
    return ".".join(path.relative_to(ROOT).parent.parts)


def _resolve(path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = _package_of(path).split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _is_module(dotted: str) -> bool:
    rel = Path(*dotted.split("."))
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def _access_problem(importer: Path, dotted: str) -> str | None:
    """Why the module ``importer`` may not use ``dotted`` (a module or a module's name)."""
    parts = dotted.split(".")
    importer_package = _package_of(importer)
    for i in range(1, len(parts)):
        owner, name = ".".join(parts[:i]), parts[i]
        if not _private(name):
            continue
        if _is_module(".".join(parts[: i + 1])):
            # a private module: its package and that package's subpackages may use it
            inside = importer_package == owner or importer_package.startswith(owner + ".")
            if not inside:
                return f"private module {'.'.join(parts[: i + 1])} of package {owner}"
        else:
            package = owner if _is_package(owner) else owner.rpartition(".")[0]
            if importer_package != package:
                return f"private name {name} of {owner} (package {package})"
    return None


def _is_package(dotted: str) -> bool:
    return (ROOT / Path(*dotted.split(".")) / "__init__.py").is_file()


def _private_imports(path: Path) -> list[str]:
    found = []
    bound: dict[str, str] = {}  # local name -> bowclf module it stands for
    tree = _tree(path)
    for node in ast.walk(tree):
        used: list[str] = []
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("bowclf"):
                    used.append(alias.name)
                    if alias.asname:
                        bound[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(path, node)
            if not module.startswith("bowclf"):
                continue
            for alias in node.names:
                used.append(f"{module}.{alias.name}")
                if _is_module(f"{module}.{alias.name}"):
                    bound[alias.asname or alias.name] = f"{module}.{alias.name}"
        for dotted in used:
            problem = _access_problem(path, dotted)
            if problem:
                found.append(f"{_rel(path)}:{node.lineno}: imports {dotted}: {problem}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and _private(node.attr)
        ):
            dotted = f"{bound[node.value.id]}.{node.attr}"
            problem = _access_problem(path, dotted)
            if problem:
                found.append(f"{_rel(path)}:{node.lineno}: reads {dotted}: {problem}")
    return found


def _long_functions(path: Path) -> list[str]:
    return [
        f"{_rel(path)}:{node.lineno}: {node.name} has {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def test_only_the_estimators_write_fitted_state():
    found = [
        problem
        for path in _modules()
        if _rel(path) not in ESTIMATOR_MODULES
        for problem in _fitted_state_writes(_rel(path), _tree(path))
        + _private_method_calls(_rel(path), _tree(path))
    ]
    assert not found, "\n".join(found)


def test_no_private_name_crosses_a_package_boundary():
    found = [problem for path in _modules() for problem in _private_imports(path)]
    assert not found, "\n".join(found)


def test_module_and_function_sizes():
    found = [
        f"{_rel(path)}: {n} lines"
        for path in _modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    found += [problem for path in _modules() for problem in _long_functions(path)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f(model):\n    model.classes_ = 1\n", 1),
        ("def f(model):\n    setattr(model, 'coef_', 1)\n", 1),
        ("def f(model, k):\n    setattr(model, k, 1)\n", 1),
        ("class C:\n    def f(self):\n        self.classes_ = 1\n", 0),
        ("def f(model):\n    model.n = 1\n", 0),
    ],
)
def test_the_fitted_state_rule_sees_writes(source, expected):
    assert len(_fitted_state_writes("probe.py", ast.parse(source))) == expected


@pytest.mark.parametrize(
    ("where", "source", "expected"),
    [
        ("bowclf/stream.py", "def f(model, b):\n    model._fit_source(b)\n", 1),
        ("bowclf/dask.py", "def f(model):\n    model._validate_params()\n", 1),
        ("bowclf/persist.py", "def f(model, p):\n    model._restore(p)\n", 0),
        ("bowclf/stream.py", "def f(model, p):\n    model._restore(p)\n", 1),
        ("bowclf/stream.py", "class C:\n    def f(self):\n        self._train()\n", 0),
        ("bowclf/stream.py", "def f(model, b):\n    model.fit_backend(b)\n", 0),
    ],
)
def test_the_private_method_rule_sees_calls(where, source, expected):
    assert len(_private_method_calls(where, ast.parse(source))) == expected


def test_the_privacy_rule_sees_crossings():
    disk = PACKAGE / "backends" / "disk.py"
    root_module = PACKAGE / "stream.py"
    assert _access_problem(root_module, "bowclf.backends.dask._piece_bounds")
    assert _access_problem(disk, "bowclf.text._check_texts")
    assert _access_problem(disk, "bowclf.backends.memory._anything") is None
    assert _access_problem(disk, "bowclf._math.top_k") is None  # private module, subpackage
    assert _access_problem(disk, "bowclf._math._private_helper")
    assert _access_problem(root_module, "bowclf.report._layout.summary_rows")
