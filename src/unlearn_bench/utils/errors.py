"""The one exception type users see: a clear sentence, no traceback."""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate


class UnlearnBenchError(Exception):
    """A problem with the user's input or environment, reported as one sentence."""


def user_error(err: BaseException | None) -> UnlearnBenchError | None:
    """The UnlearnBenchError behind `err` (Hydra wraps errors raised while instantiating)."""
    while err is not None:
        if isinstance(err, UnlearnBenchError):
            return err
        err = err.__cause__ or err.__context__
    return None


def build(config: Any, **kwargs: Any) -> Any:
    """hydra.utils.instantiate that lets our own errors through unwrapped."""
    try:
        return instantiate(config, **kwargs)
    except InstantiationException as err:
        cause = user_error(err)
        if cause is None:
            raise
        raise cause from None
