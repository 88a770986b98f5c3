"""Turn feed messages into ``Record`` objects without trusting them.

The feed is a contract, but the TUI may meet a newer proxy (extra fields), an older one (missing
fields) or a buggy one (wrong types). Each field is checked against the type ``Record`` declares;
what does not fit becomes the field's default, so the table shows a blank instead of crashing.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable
from typing import Any

from metrics.record import Record

# Control characters would break a one-line table cell (or move the terminal's cursor).
_CONTROL = {code: " " for code in (*range(0, 32), 127)}
MAX_TEXT = 2000


def _as_str(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    return value[:MAX_TEXT].translate(_CONTROL)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None  # bool is an int subclass, but True is no token count
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _as_str_map(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    pairs = ((_as_str(k), _as_str(v) if not isinstance(v, int | float) else str(v)) for k, v in value.items())
    return {k: v for k, v in pairs if k is not None and v is not None}


_COERCERS: dict[type, Callable[[Any], Any]] = {
    str: _as_str,
    int: _as_int,
    float: _as_float,
    bool: _as_bool,
    dict: _as_str_map,
}


def _coercer(hint: Any) -> Callable[[Any], Any]:
    """The checker for one annotation such as ``int | None`` or ``dict[str, str]``."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        base = typing.get_origin(option) or option
        if base in _COERCERS:
            return _COERCERS[base]
    return lambda value: None


# Built once from Record itself, so a field added to the contract is picked up here.
_HINTS = typing.get_type_hints(Record)
_FIELDS = {f.name: f for f in dataclasses.fields(Record)}
_CHECKS = {name: _coercer(_HINTS[name]) for name in _FIELDS}


def _default(name: str) -> Any:
    spec = _FIELDS[name]
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return None if spec.default is dataclasses.MISSING else spec.default


def record_id(message: dict[str, Any]) -> str | None:
    """The upsert key: a string id (numbers are accepted and stringified), else None."""
    raw = message.get("id")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    text = _as_str(raw)
    return text or None


def to_record(message: dict[str, Any]) -> Record | None:
    """A ``Record`` from a ``request`` message, or None when it has no usable id."""
    key = record_id(message)
    if key is None:
        return None
    values: dict[str, Any] = {"id": key}
    for name, check in _CHECKS.items():
        if name == "id":
            continue
        value = check(message.get(name))
        values[name] = _default(name) if value is None else value
    return Record(**values)
