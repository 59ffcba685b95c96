"""Modules the ``bowclf`` process loads on first use rather than when scikit-learn starts.

scikit-learn imports ``scipy.stats`` as it starts (``sklearn.utils.fixes``, for one function
no command calls on its main path), and ``scipy.stats`` brings scipy's optimisation,
interpolation, spatial and integration packages with it: tens of MiB resident and a large part
of the start-up of every command (bench/RESULTS-threads.md, run 16, has the figures).  The
command line owns its process, so before it imports the library it
puts a stand-in for such a module into :data:`sys.modules`: the first time anything reads an
attribute of the stand-in that it does not have, the real module is imported and the
stand-in forwards to it from then on (a command that does use ``scipy.stats`` — ``--autotune``
— gets the real module, only later).

Why not :class:`importlib.util.LazyLoader`: before Python 3.13 an ``import scipy.stats``
statement reads the ``__spec__`` of the module found in :data:`sys.modules`, and any attribute
read of a lazy module loads it, so scikit-learn's own import statement would load it at once.
The stand-in carries the real module's ``__spec__`` (found without executing the module), so
import statements pass it by.

The library never does this: in a user's process a stand-in would be a global side effect of
importing bowclf.  Only :func:`bowclf.cli.main` calls :func:`defer`.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import threading
import types

__all__ = ["DEFERRED", "defer"]

#: Modules the CLI defers: imported by scikit-learn at start-up, not used by the commands'
#: main paths.
DEFERRED = ("scipy.stats",)

_LOCK = threading.RLock()


class _StandIn(types.ModuleType):
    """Takes a module's place in :data:`sys.modules` until an attribute it lacks is read."""

    def __getattr__(self, attr: str):
        # Called only for attributes missing from the stand-in (e.g. ``__path__``,
        # ``__file__`` or any public name): load the real module and forward.
        return getattr(_load(self), attr)

    def __dir__(self) -> list[str]:
        return dir(_load(self))


def _load(stand_in: _StandIn) -> types.ModuleType:
    """Import the module ``stand_in`` stands for (once), make every way of reaching it give
    the real module, and return it."""
    name = stand_in.__name__
    with _LOCK:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        module = importlib.import_module(name)
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:  # the package's attribute, as a first import sets it
            vars(sys.modules[parent])[child] = module
        # code that kept a reference to the stand-in sees the real module's names
        stand_in.__dict__.update(module.__dict__)
    return module


def _spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """The spec of module ``name``, found without importing its parent packages
    (``importlib.util.find_spec`` imports them: numpy and scipy for ``scipy.stats``, a
    fifth of a second of every ``bowclf --help``)."""
    parent = name.rpartition(".")[0]
    if not parent or parent in sys.modules:
        return importlib.util.find_spec(name)
    found = _spec(parent)
    if found is None or found.submodule_search_locations is None:
        return None
    return importlib.machinery.PathFinder.find_spec(name, found.submodule_search_locations)


def defer(names: tuple[str, ...] = DEFERRED) -> None:
    """Put a stand-in for each module of ``names`` that is not imported yet into
    :data:`sys.modules` (see the module doc); a name that cannot be found is left alone."""
    with _LOCK:
        for name in names:
            if name in sys.modules:
                continue
            spec = _spec(name)
            if spec is None:
                continue
            stand_in = _StandIn(name)
            stand_in.__spec__ = spec
            stand_in.__loader__ = spec.loader
            stand_in.__package__ = spec.parent
            sys.modules[name] = stand_in
