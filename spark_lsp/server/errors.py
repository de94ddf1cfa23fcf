"""One failing feature never takes the server down.

`guarded` wraps a handler: an exception is logged on the feature's child logger, the handler
returns its neutral answer, and the first failure of each feature is shown to the user once.
`JsonRpcException`s pass through: they are deliberate answers (bad command arguments).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pygls.exceptions import JsonRpcException

LOGGER = "spark_lsp.server"


def feature_logger(feature: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER}.{feature}")


def guarded(feature: str, default: Any = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    log = feature_logger(feature)

    def failed(ls: Any, exc: Exception) -> Any:
        ls.report_failure(feature, exc)
        return default

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        # The wrapper's first parameter is named `ls` (and it has no annotations) so that pygls
        # passes the server in and hands command arguments through `*args` unconverted.
        async def async_handler(ls, *args):  # type: ignore[no-untyped-def]
            try:
                return await fn(ls, *args)
            except (asyncio.CancelledError, JsonRpcException):
                raise
            except Exception as exc:
                log.exception("%s failed", feature)
                return failed(ls, exc)

        def sync_handler(ls, *args):  # type: ignore[no-untyped-def]
            try:
                return fn(ls, *args)
            except JsonRpcException:
                raise
            except Exception as exc:
                log.exception("%s failed", feature)
                return failed(ls, exc)

        handler = async_handler if asyncio.iscoroutinefunction(fn) else sync_handler
        handler.__name__ = fn.__name__
        handler.__qualname__ = fn.__qualname__
        handler.__doc__ = fn.__doc__
        return handler

    return decorate
