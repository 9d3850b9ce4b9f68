"""Strict reading of untrusted plain data: one set of rules for every file reader of the project.

Scenario files, controller configs, the twin's world tables, run manifests, promotion records and
Hazelcast TOML files all go through here (``controller`` is importable from every package and
imports nothing of the project, so the rules live in one place):

* :func:`load_toml` / :func:`load_json` parse text and then :func:`check_tree` it — a parser's own
  recursion limit is turned into a clean error, nesting deeper than :data:`MAX_DEPTH` and arrays or
  tables longer than the given bound are rejected, every integer must lie in :data:`INT_RANGE`
  (a 400-digit integer never reaches ``float()``), every string and key is at most
  :data:`MAX_TEXT` characters and holds no NUL character;
* :func:`number` — a finite int/float (never a bool, never a numeric string) inside a stated range;
* :func:`integer` — an int inside a stated range;
* :func:`identifier` — a name that is safe as one path component (:data:`IDENTIFIER_RULE`);
* :func:`regular_file` — a path resolved and checked to be a readable regular file of the right kind.

Every failure is a :class:`StrictError` carrying ``source``, ``path`` (the field), ``expected`` and
``got``; each reader re-raises it as its own error type. :func:`shown` renders an offending value
for a message, bounded in length.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any, Callable

__all__ = ["StrictError", "MAX_DEPTH", "MAX_SECONDS", "MAX_TEXT", "INT_RANGE", "IDENTIFIER_RULE", "load_toml", "load_json",
           "check_tree", "number", "integer", "identifier", "is_identifier", "regular_file", "shown"]

MAX_DEPTH = 16
"""Deepest nesting of arrays/tables accepted in any file (the deepest real one is 4)."""
MAX_TEXT = 100_000
"""Longest string or key accepted, in characters."""
INT_RANGE = (-(2 ** 63), 2 ** 63 - 1)
"""Every integer in a file must fit a signed 64-bit integer."""
MAX_SECONDS = 1e9
"""Longest duration accepted anywhere (about 31 years); each field states its own, tighter range."""
IDENTIFIER_RULE = "1 to 64 characters from A-Z a-z 0-9 _ - . starting with a letter or digit"
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


class StrictError(ValueError):
    """Untrusted data broke a rule: names the source, the field path and what was expected."""

    def __init__(self, source: str, path: str, expected: str, got: object = None) -> None:
        self.source, self.path, self.expected, self.got = source, path, expected, got
        super().__init__(f"{source}: {path}: expected {expected}{shown_got(got)}")


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to about ``limit`` characters; never raises (huge ints, deep nesting)."""
    if isinstance(value, int) and not isinstance(value, bool) and not INT_RANGE[0] <= value <= INT_RANGE[1]:
        return f"<an integer of {len(str(abs(value))) if value.bit_length() < 13000 else 'over 4000'} digits>"
    if isinstance(value, (list, dict, tuple)):
        summary = f"<{type(value).__name__} of {len(value)} entries>"
        try:
            text = repr(value) if _depth_at_most(value, 2) else summary
        except (ValueError, RecursionError):
            text = summary
        text = text if len(text) <= limit else summary
    else:
        try:
            text = repr(value)
        except (ValueError, RecursionError):
            text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 20] + f"…({len(text)} chars)"


def shown_got(got: object) -> str:
    """``", got <value>"`` for a message, or nothing when ``got`` is None."""
    return "" if got is None else f", got {shown(got)}"


def _depth_at_most(value: Any, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, tuple, dict)):
            if d >= limit:
                return False
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return True


def load_toml(text: str, source: str, max_items: int = 10_000) -> dict[str, Any]:
    """Parse TOML ``text`` and :func:`check_tree` it; raises :class:`StrictError` (field ``(syntax)``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StrictError(source, "(syntax)", f"valid TOML ({exc})") from None
    except RecursionError:
        raise StrictError(source, "(syntax)", f"arrays/tables nested at most {MAX_DEPTH} deep") from None
    except ValueError as exc:               # e.g. an integer literal beyond Python's digit limit
        raise StrictError(source, "(syntax)", f"valid TOML ({str(exc)[:120]})") from None
    check_tree(data, source, max_items=max_items)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(text: str | bytes, source: str, max_items: int = 1_000_000) -> Any:
    """Parse JSON ``text`` (NaN/Infinity rejected) and :func:`check_tree` it; raises :class:`StrictError`."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise StrictError(source, "(syntax)", f"arrays/objects nested at most {MAX_DEPTH} deep") from None
    except UnicodeDecodeError:
        raise StrictError(source, "(file)", "UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise StrictError(source, "(syntax)", "valid JSON",
                          f"{exc.msg.removesuffix(' at')} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:
        raise StrictError(source, "(syntax)", f"valid JSON ({str(exc)[:120]})") from None
    check_tree(data, source, max_items=max_items)
    return data


def check_tree(data: Any, source: str, max_items: int = 10_000, max_depth: int = MAX_DEPTH) -> None:
    """Bounded nesting, lengths, integers and strings in parsed plain data (iterative: no recursion)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        where = path or "(root)"
        if isinstance(value, dict):
            children = []
            for k, v in value.items():
                if not isinstance(k, str) or len(k) > MAX_TEXT or "\x00" in k:
                    raise StrictError(source, where, f"keys of at most {MAX_TEXT} characters without NUL",
                                      k if not isinstance(k, str) else k[:40])
                children.append((v, f"{path}.{k}" if path else k))
        elif isinstance(value, list):
            children = [(v, f"{path}[{i}]") for i, v in enumerate(value)]
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if not INT_RANGE[0] <= value <= INT_RANGE[1]:
                raise StrictError(source, where, "an integer within signed 64 bits", value)
            continue
        elif isinstance(value, str):
            if len(value) > MAX_TEXT or "\x00" in value:
                raise StrictError(source, where, f"a string of at most {MAX_TEXT} characters without NUL",
                                  value[:40])
            continue
        else:
            continue
        if depth >= max_depth:
            raise StrictError(source, where, f"arrays/tables nested at most {max_depth} deep")
        if len(children) > max_items:
            raise StrictError(source, where, f"at most {max_items} entries", f"{len(children)} entries")
        stack.extend((v, p, depth + 1) for v, p in children)


def _interval(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    return f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def number(value: Any, source: str, path: str, lo: float = -math.inf, hi: float = math.inf, *,
           lo_open: bool = False, hi_open: bool = False, what: str = "a number") -> float:
    """``value`` as a finite float in the interval; an int of any size never raises ``OverflowError``."""
    expected = f"{what} in {_interval(lo, hi, lo_open, hi_open)}" if (math.isfinite(lo) or math.isfinite(hi)) \
        else f"{what} (finite)"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StrictError(source, path, expected, value)
    if isinstance(value, int) and not INT_RANGE[0] <= value <= INT_RANGE[1]:
        raise StrictError(source, path, expected, value)
    v = float(value)
    if not math.isfinite(v) or v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
        raise StrictError(source, path, expected, value)
    return v


def integer(value: Any, source: str, path: str, lo: int, hi: int, what: str = "an integer") -> int:
    """``value`` as an int in ``[lo, hi]`` (never a bool or a float)."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise StrictError(source, path, f"{what} in [{lo}, {hi}]", value)
    return value


def is_identifier(value: Any) -> bool:
    """True when ``value`` matches :data:`IDENTIFIER_RULE` (so it is one safe path component)."""
    return isinstance(value, str) and _IDENTIFIER.fullmatch(value) is not None


def identifier(value: Any, source: str, path: str, what: str = "a name") -> str:
    """``value`` if it matches :data:`IDENTIFIER_RULE`; never a path (``/``, ``.``, ``..``, NUL …)."""
    if not is_identifier(value):
        raise StrictError(source, path, f"{what}: {IDENTIFIER_RULE}", value)
    return value


def regular_file(value: Any, source: str, path: str, what: str = "a file",
                 kind: Callable[[Path], str | None] | None = None, max_bytes: int = 1 << 30) -> Path:
    """``value`` resolved to a readable regular file of at most ``max_bytes``; ``kind(p)`` returns a
    complaint or None.

    Rejects a missing path, a directory, a device or FIFO (``/dev/zero``), an unreadable file and,
    through ``kind``, a file of the wrong format.
    """
    if not isinstance(value, str) or not value or len(value) > 4096 or "\x00" in value:
        raise StrictError(source, path, f"the path of {what}", value)
    try:
        p = Path(value).expanduser().resolve()
        st = p.stat()
    except (OSError, RuntimeError, ValueError):
        raise StrictError(source, path, f"the path of {what} (it does not exist)", value) from None
    if not stat.S_ISREG(st.st_mode):
        raise StrictError(source, path, f"the path of {what} (a regular file, not a directory or device)", value)
    if st.st_size > max_bytes:
        raise StrictError(source, path, f"the path of {what} (at most {max_bytes} bytes)", value)
    if not os.access(p, os.R_OK):
        raise StrictError(source, path, f"the path of {what} (it is not readable)", value)
    complaint = kind(p) if kind is not None else None
    if complaint:
        raise StrictError(source, path, f"the path of {what} ({complaint})", value)
    return p
