"""Checking what third-party hooks return before any of it reaches a call.

Built-in plugins are trusted and not checked here. A ``sip_headers`` result of the wrong
shape is refused whole (:class:`BadResult`); a bad ``token_values`` key is dropped alone.
Either way the message says what was wrong, never the value (it may be secret).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sipflask.core import sipheaders
from sipflask.core.tokens import BUILTIN_TOKENS
from sipflask.plugins.runner import PluginFailure, fail

_TOKEN_NAME_RE = re.compile(r"[a-z0-9_]+\Z")


class BadResult(ValueError):
    """A hook returned something of the wrong shape; message says what."""


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent or stored (lone surrogates, NUL), or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (lone surrogate)"
    return None


def header_pairs(result: Any) -> list[tuple[str, str]]:
    """A ``sip_headers`` result as ``(name, value)`` pairs, or :class:`BadResult`."""
    if result is None:
        return []
    if not isinstance(result, (list, tuple)):
        raise BadResult(
            f"returned {type(result).__name__}, expected a list of (name, value) pairs"
        )
    pairs: list[tuple[str, str]] = []
    for i, item in enumerate(result):
        if not (isinstance(item, (list, tuple)) and len(item) == 2
                and isinstance(item[0], str) and isinstance(item[1], str)):
            raise BadResult(f"item {i} is not a (name, value) pair of strings")
        name, value = item
        problem = sipheaders.header_name_problem(name)
        if problem is not None:
            raise BadResult(f"item {i} has an invalid header name {name[:60]!r}: {problem}")
        if "\r" in value or "\n" in value:
            raise BadResult(f"the value of header {name} contains a line break")
        problem = text_problem(value)
        if problem:
            raise BadResult(f"the value of header {name} {problem}")
        pairs.append((name, value))
    return pairs


def token_values(name: str, result: Any, failures: list[PluginFailure]) -> dict[str, str]:
    """The usable keys of plugin ``name``'s ``token_values`` result; the rest go to failures."""
    if result is None:
        return {}
    if not isinstance(result, Mapping):
        fail(failures, name, "token_values",
             f"returned {type(result).__name__}, expected a dict of str to str")
        return {}
    good: dict[str, str] = {}
    for key, value in result.items():
        if not isinstance(key, str) or not _TOKEN_NAME_RE.match(key):
            fail(failures, name, "token_values",
                 f"dropped key {str(key)[:60]!r}: token names use lowercase letters, "
                 "digits and _")
        elif key in BUILTIN_TOKENS:
            fail(failures, name, "token_values",
                 f"dropped key {key!r}: it is a built-in token name")
        elif not isinstance(value, str):
            fail(failures, name, "token_values",
                 f"dropped key {key!r}: value is {type(value).__name__}, not str")
        elif problem := text_problem(value):
            fail(failures, name, "token_values", f"dropped key {key!r}: value {problem}")
        else:
            good[key] = value
    return good
