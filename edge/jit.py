"""Compiled kernels for the node's per-frame work (numba), cached on disk.

numba keeps the machine code of a ``cache=True`` function next to its source file
(``__pycache__``), else, where that is read-only, in the user's cache directory
(``~/.cache/numba``), or always in ``NUMBA_CACHE_DIR`` when that is set (the edge
image and the systemd unit set it). Where none of these is writable numba refuses to
define the function at all; :func:`kernel` then compiles it without the cache, on
every start, instead of failing the node's import.

The cache notices a change of the file a kernel is defined in, not of the files it
calls into: a kernel and everything compiled that it calls stay in one module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from numba import njit

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
_warned = False


def kernel(fn: F) -> F:
    """``numba.njit(cache=True)``, or uncached where no cache directory is writable.
    Typed as the function itself: a kernel is called like the plain function."""
    global _warned
    try:
        compiled = njit(cache=True)(fn)
    except RuntimeError as exc:  # "cannot cache function ...: no locator available"
        if not _warned:
            _warned = True
            logger.warning(
                "numba cannot cache compiled code (%s): set NUMBA_CACHE_DIR to a "
                "writable directory, or each start compiles again",
                exc,
            )
        compiled = njit(fn)
    return cast(F, compiled)
