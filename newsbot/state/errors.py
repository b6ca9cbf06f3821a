"""Why a state store cannot be used: one exception per cause, each message saying what to do
(:func:`newsbot.state.files.environment_error` tells a filesystem problem from a damaged store).
"""

from __future__ import annotations


class StateError(Exception):
    """The state store cannot be used; the message says why and what to do."""


class StateLocked(StateError):
    """Another run holds the state directory."""


class StateMissing(StateError):
    """The state directory has been used before but its store is gone."""


class StateCorrupt(StateError):
    """The store exists but is not a readable newsbot state store."""


class StateUnavailable(StateError):
    """The store cannot be read or written because of where it lives (a full disk, a
    read-only or failing filesystem), not because of what it holds: it must not be rebuilt."""
