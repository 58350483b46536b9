"""Calling the published object with the form fields its parameters name,
and turning its result into the body and content type of the response."""

from __future__ import annotations

import functools
import inspect
import re
import types
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Dict, List, Optional, Tuple

from mod_python._publisher_base import _Refused


@functools.lru_cache(maxsize=1024)
def _function_signature(func: types.FunctionType) -> inspect.Signature:
    # inspect.signature costs about as much as the rest of a request; a
    # published function's signature does not change (a reloaded module
    # brings new function objects, and the old ones age out of the cache).
    return inspect.signature(func)


def _signature(func: Any) -> Optional[inspect.Signature]:
    """``func``'s signature (cached for plain functions), or None if it has none."""
    try:
        if type(func) is types.FunctionType:
            return _function_signature(func)
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _arguments(func: Any, req: Any, fields: Mapping[str, Any]) -> Tuple[List[Any], Dict[str, Any]]:
    """The arguments to call ``func`` with: ``req`` and the form fields its parameters name.

    A parameter named ``req`` gets the request object, whatever the form
    holds. A parameter with no field of its name keeps its default; one
    without a default makes a 400. Fields no parameter names are dropped,
    unless the function has ``**kwargs``, which then receives them all
    (except a field named ``req``). ``*args`` receives nothing.
    """
    signature = _signature(func)
    if signature is None:
        return [], {}  # no signature to match (some C callables): call without arguments
    args: List[Any] = []
    kwargs: Dict[str, Any] = {}
    missing: List[str] = []
    takes_kwargs = False
    for param in signature.parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            continue
        if param.kind is param.VAR_KEYWORD:
            takes_kwargs = True
            continue
        if param.name == "req":
            value = req
        elif param.name in fields:
            value = fields[param.name]
        elif param.default is not param.empty:
            if param.kind is param.POSITIONAL_ONLY:
                args.append(param.default)  # keeps the place of those that follow
            continue
        else:
            missing.append(param.name)
            continue
        if param.kind is param.POSITIONAL_ONLY:
            args.append(value)
        else:
            kwargs[param.name] = value
    if missing:
        raise _Refused(
            HTTPStatus.BAD_REQUEST,
            f"missing form field{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
        )
    if takes_kwargs:
        for name, value in fields.items():
            if name != "req" and name not in kwargs:
                kwargs[name] = value
    return args, kwargs


def _form_fields(form: Any) -> Dict[str, Any]:
    """Each field name of the form with its value: a str, an upload, or a list if repeated."""
    return {name: form[name] for name in form.keys()}


# --------------------------------------------------------------------------- output

# A byte order mark, as text or as UTF-8 bytes read as ISO-8859-1, may come first.
_HTML_START = re.compile(
    r"(?:\ufeff|\xef\xbb\xbf)?\s*(?:<!doctype\s+html\b|<html[\s>])", re.IGNORECASE
)
_HTML_END = re.compile(r"</html\s*>\s*\Z", re.IGNORECASE)


def _looks_like_html(head: str, tail: str) -> bool:
    """Whether published text is an HTML page, from its first 1024 and last 100
    characters: it begins with ``<html`` (or an HTML doctype), or it ends
    with ``</html>`` (a page that starts with a comment, say)."""
    return bool(_HTML_START.match(head) or _HTML_END.search(tail))


def _content_type(data: Any) -> str:
    """The Content-Type of published ``data`` (``str`` or ``bytes``) when the handler set none.

    Text is written as UTF-8 and says so; bytes get no charset, since the
    publisher cannot know theirs. ISO-8859-1 maps bytes one to one, so the
    tags are found in bytes of any encoding that keeps ASCII as it is.
    """
    if isinstance(data, str):
        kind = "text/html" if _looks_like_html(data[:1024], data[-100:]) else "text/plain"
        return kind + "; charset=utf-8"
    head, tail = data[:1024].decode("iso-8859-1"), data[-100:].decode("iso-8859-1")
    return "text/html" if _looks_like_html(head, tail) else "text/plain"


def _output(result: Any) -> Any:
    """What is written for ``result``: ``bytes`` for bytes-like objects, ``str`` for the rest."""
    if isinstance(result, bytes):
        return result
    if isinstance(result, (bytearray, memoryview)):
        return bytes(result)
    return str(result)
