"""A fit that raises leaves the estimator as it was.

scikit-learn does not promise it, but a user who refits a fitted model with data it refuses
(a typo in the validation labels, ``warm_start`` with other classes) keeps using the model:
it must not answer with the old weights under the new class names, or fail on the next
``predict`` because half of its fitted attributes are the new fit's.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

__all__ = ["keeps_state_on_error", "unchanged_on_error"]

F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def unchanged_on_error(estimator: Any, *, interrupts: bool = True) -> Iterator[None]:
    """Restore every attribute of ``estimator`` (fitted state included) when the block raises.

    The attributes are restored by reference: the block must not change the arrays it
    found in place (a new fit's arrays are its own).  ``interrupts=False``: only exceptions,
    not ``KeyboardInterrupt``/``SystemExit``, restore.
    """
    saved = dict(vars(estimator))
    try:
        yield
    except BaseException as exc:
        if interrupts or isinstance(exc, Exception):
            vars(estimator).clear()
            vars(estimator).update(saved)
        raise


def keeps_state_on_error(method: F) -> F:
    """Decorate a fitting method: its estimator is restored by :func:`unchanged_on_error`
    (interrupts included) when it raises."""

    @functools.wraps(method)
    def fit(self, *args, **kwargs):
        with unchanged_on_error(self):
            return method(self, *args, **kwargs)

    return fit  # type: ignore[return-value]
