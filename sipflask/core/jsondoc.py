"""Reading a JSON document a user hands over (``flask import FILE``) without trusting it.

:func:`load` turns the file's bytes into a document or raises :class:`DocumentError` with one
clear message: too big, empty, not UTF-8 (with the byte offset, line and column), not JSON (line
and column), or nested deeper than :data:`MAX_DEPTH` (with the JSON path where it goes too deep:
Python's parser would otherwise stop with a RecursionError around 1,000 levels).

:func:`problems` then walks the parsed document, without recursion, and lists every value that
could not be stored as it is, each with its JSON path (``buyers[3].name``): text holding NUL or a
lone surrogate (``"\\ud800"`` is valid JSON, yet no UTF-8 column can hold it), ``NaN`` and
``Infinity`` (Python reads them, JSON and PostgreSQL do not), numbers too long to be numbers, a
key given twice in one object (JSON keeps the last silently), and nesting past the limit.
"""
from __future__ import annotations

import codecs
import json
import math
import re
from typing import Any

from sipflask.core.validation import unstorable_problem

MAX_DEPTH = 64  # the setup format needs 5; free-form settings get the rest
MAX_BYTES = 50 * 1024 * 1024  # about 50,000 buyers with hours and headers
MAX_DIGITS = 30  # a whole number longer than this is a typo, not a cap or a setting


class DocumentError(Exception):
    """The file as a whole can't be read; ``path`` is ``$`` or where it went wrong."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class _Refused:
    """A value the parser read that can't be kept; reported with its path by :func:`problems`."""

    def __init__(self, message: str):
        self.message = message


class _Object(dict):
    """A JSON object that remembers the keys it was given more than once."""

    repeated: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> dict:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        obj.repeated = tuple(k for k, _ in pairs if k in seen or seen.add(k))
    return obj


def _int(text: str):
    if len(text.lstrip("-")) > MAX_DIGITS:
        return _Refused(f"a number with {len(text.lstrip('-'))} digits (at most {MAX_DIGITS})")
    return int(text)


def _float(text: str):
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"{text[:20]} is too large a number")


def _constant(text: str):
    return _Refused(f"{text} is not a JSON number")


def load(data: bytes) -> Any:
    """The document in ``data``; raises DocumentError when the bytes can't be one."""
    if len(data) > MAX_BYTES:
        raise DocumentError("$", f"too big: more than {MAX_BYTES:,} bytes.")
    if data.startswith(codecs.BOM_UTF8):  # Windows editors add it; it is not part of the JSON
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DocumentError("$", f"not UTF-8: byte 0x{data[exc.start]:02X} at byte offset "
                                 f"{exc.start} (line {line}, column {column}): {exc.reason}. "
                                 "Save the file as UTF-8.") from None
    if not text.strip():
        raise DocumentError("$", "empty: it must hold a JSON object.")
    try:
        return json.loads(text, object_pairs_hook=_object, parse_int=_int, parse_float=_float,
                          parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise DocumentError("$", f"not valid JSON: {exc.msg} at line {exc.lineno}, column "
                                 f"{exc.colno}.") from None
    except RecursionError:
        raise DocumentError(too_deep_at(text) or "$", _deep()) from None


def _deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep."


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


def child(path: str, key: str | int) -> str:
    """``buyers`` + 3 -> ``buyers[3]``; ``buyers[3]`` + ``name`` -> ``buyers[3].name``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if not _PLAIN_KEY.match(key):  # ASCII-escaped: a path must print, whatever the key holds
        return f"{path}[{json.dumps(key)}]"
    return f"{path}.{key}" if path else key


def _short(path: str) -> str:
    return path if len(path) <= 80 else path[:70] + "…"


def problems(doc: Any) -> list[tuple[str, str]]:
    """``(path, message)`` for each value of ``doc`` that can't be stored as it is, in the
    order of the document."""
    found: list[tuple[str, str]] = []
    # Depth first, in document order, without recursion; a path is only spelled out for a
    # problem (``where`` is a chain of (parent, key) pairs), which keeps a 6 MB file at ~0.5 s.
    if not isinstance(doc, (dict, list)):
        message = _scalar_problem(doc)
        return [("$", message)] if message else []
    stack: list[tuple[Any, Any, int]] = [(None, doc, 1)]
    while stack:
        where, value, depth = stack.pop()
        if isinstance(value, dict):
            for key in getattr(value, "repeated", ()):
                found.append((_path(where), f"key {json.dumps(key)} is given more than once."))
            items = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:  # a scalar that has a problem, queued so problems keep the document's order
            found.append((_path(where), value))
            continue
        if depth > MAX_DEPTH:
            found.append((_short(_path(where)), _deep()))
            continue
        nested = []
        for key, item in items:
            if isinstance(key, str) and (problem := unstorable_problem(key)):
                found.append((_path(where), f"key {json.dumps(key)} {problem}."))
            if isinstance(item, (dict, list)):
                nested.append(((where, key), item, depth + 1))
            elif (message := _scalar_problem(item)) is not None:
                nested.append(((where, key), message, depth + 1))
        stack.extend(reversed(nested))
    return found


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, str):
        problem = unstorable_problem(value)
        return f"{problem}." if problem else None
    if isinstance(value, _Refused):
        return f"{value.message}."
    return None


def _path(where) -> str:
    keys = []
    while where is not None:
        where, key = where
        keys.append(key)
    path = ""
    for key in reversed(keys):
        path = child(path, key)
    return path or "$"


# --- where a document too deep for the parser goes too deep -----------------------------------

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]|[^\s\[\]{},:"]+|\s+', re.S)


def too_deep_at(text: str) -> str | None:
    """The path of the first container past :data:`MAX_DEPTH`, found by reading the tokens of
    ``text`` without recursion; None if it never goes that deep (or isn't JSON enough to say)."""
    frames: list[list] = []  # per open container: [is_object, key or index, expecting a key]
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == "[" or token == "{":
            if len(frames) >= MAX_DEPTH:
                return _frames_path(frames)
            frames.append([token == "{", None if token == "{" else 0, token == "{"])
        elif token in ("]", "}"):
            if frames:
                frames.pop()
        elif token == "," and frames:
            frame = frames[-1]
            if frame[0]:
                frame[2] = True
            else:
                frame[1] += 1
        elif token.startswith('"') and frames and frames[-1][0] and frames[-1][2]:
            try:
                frames[-1][1] = json.loads(token)
            except ValueError:
                frames[-1][1] = token.strip('"')
            frames[-1][2] = False
    return None


def _frames_path(frames: list[list]) -> str:
    path = ""
    for _is_object, key, _expecting in frames:
        path = child(path, key if key is not None else "?")
    return _short(path) or "$"
