"""Reading the session's PythonOption values (with 3.3's obsolete names as fallbacks)."""

from __future__ import annotations

from typing import Any, Mapping, Optional

_TRUE = {"1", "on", "true", "yes"}
_FALSE = {"0", "off", "false", "no"}


def request_options(req: Any) -> Mapping[str, str]:
    """``req.get_options()``; an adapter without it (outside Apache) has no options."""
    get_options = getattr(req, "get_options", None)
    if get_options is None:
        return {}
    return get_options()


def first(options: Mapping[str, str], *names: str) -> Optional[str]:
    """The value of the first of *names* that is set (to a non-empty value)."""
    for name in names:
        value = options.get(name)
        if value:
            return value
    return None


def as_bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"PythonOption {name} {value!r} is not On or Off")


def as_number(value: str, name: str, minimum: float = 0.0) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"PythonOption {name} {value!r} is not a number") from None
    if not number >= minimum:  # also refuses NaN
        raise ValueError(f"PythonOption {name} {value!r} must be at least {minimum:g}")
    return number


def bool_option(options: Mapping[str, str], name: str, default: bool) -> bool:
    value = options.get(name)
    return default if not value else as_bool(value, name)


def number_option(
    options: Mapping[str, str], name: str, default: float, minimum: float = 0.0
) -> float:
    value = options.get(name)
    return default if not value else as_number(value, name, minimum)
