"""The dance library: built-in and operator-added reference dances, their adds, and which
ones each booth offers (:mod:`cloud.dances.library`, :mod:`cloud.dances.adder`,
:mod:`cloud.dances.rotation`).

Errors::

    DanceError                  a dance operation that cannot be done; the message says why
    ├── DanceNotFoundError      no such dance
    └── DanceConflictError      not in this state (built-in, being added, enabled, in use)
"""

from __future__ import annotations


class DanceError(ValueError):
    """A dance operation that cannot be done; the message says why and what to do."""


class DanceNotFoundError(DanceError, LookupError):
    """No dance of that name."""


class DanceConflictError(DanceError):
    """The dance is not in a state that allows this."""
