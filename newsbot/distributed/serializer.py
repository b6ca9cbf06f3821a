"""How requests are stored in the shared queue: JSON, not scrapy-redis's default pickle.

A pickle from a shared server runs code in every worker that loads it, so anyone who can write
to Redis could run code on all the workers; JSON cannot. Bytes (bodies, headers) are tagged and
base64-encoded; tuples come back as lists. Used as ``SCHEDULER_SERIALIZER`` (a module with
``loads`` and ``dumps``), like scrapy-redis's own ``picklecompat``.

>>> loads(dumps({"body": b"{}", "headers": {b"Accept": [b"*/*"]}, "meta": {"n": 1}}))
{'body': b'{}', 'headers': {b'Accept': [b'*/*']}, 'meta': {'n': 1}}
"""

from __future__ import annotations

import base64
import json
from typing import Any

_BYTES = "__b64__"
_BYTES_KEYS = "__bkeys__"


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {_BYTES: base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        if any(isinstance(k, bytes) for k in value):
            # Header dicts have bytes keys: keep them as pairs.
            return {_BYTES_KEYS: [[_encode(k), _encode(v)] for k, v in value.items()]}
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot queue a request holding {type(value).__name__}: {value!r}")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_BYTES}:
            return base64.b64decode(value[_BYTES])
        if set(value) == {_BYTES_KEYS}:
            return {_decode(k): _decode(v) for k, v in value[_BYTES_KEYS]}
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def dumps(obj: dict[str, Any]) -> str:
    """A request dict (``Request.to_dict``) as one line of JSON."""
    return json.dumps(_encode(obj), ensure_ascii=False, separators=(",", ":"))


def loads(data: str | bytes) -> dict[str, Any]:
    result: dict[str, Any] = _decode(json.loads(data))
    return result
