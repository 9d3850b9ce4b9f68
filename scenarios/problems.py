"""Every problem of one scenario file, not only the first: the loader validates each part on its own and
collects what each part's validator names.

Validators raise at their first problem. :func:`every_problem` gets the others out of one table by dropping the
key a problem names and validating again, until the table passes, a problem names a field not in the table
(it cannot be dropped) or names a field a second time (a required key that was dropped).
"""

from __future__ import annotations

import copy
import re
from typing import Any, Callable, Mapping, TypeVar

from .errors import ScenarioFileError, ScenarioFileErrors

__all__ = ["Problems", "every_problem"]

T = TypeVar("T")
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class Problems:
    """The problems found in one file so far (each a :class:`ScenarioFileError`, once)."""

    def __init__(self) -> None:
        self.errors: list[ScenarioFileError] = []

    def add(self, *errors: ScenarioFileError) -> None:
        for exc in errors:
            for one in (exc.errors if isinstance(exc, ScenarioFileErrors) else (exc,)):
                if str(one) not in {str(e) for e in self.errors}:
                    self.errors.append(one)

    def attempt(self, check: Callable[[], T], fallback: T) -> T:
        """``check()``, or ``fallback`` when it names a problem (kept)."""
        try:
            return check()
        except ScenarioFileError as exc:
            self.add(exc)
            return fallback

    def table(self, check: Callable[[Any], T], table: Any, prefix: str, fallback: T) -> T:
        """``check(table)`` with :func:`every_problem`: the result, or ``fallback`` when there are problems."""
        result, found = every_problem(check, table, prefix)
        self.add(*found)
        return fallback if found else result  # type: ignore[return-value]

    def raise_any(self) -> None:
        """Raise the problem (one) or :class:`ScenarioFileErrors` (several), if any."""
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise ScenarioFileErrors(self.errors)


def _parts(path: str) -> list[str | int]:
    return [m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _PART.finditer(path)]


def _drop(table: dict[str, Any], parts: list[str | int]) -> bool:
    """Remove the deepest key of ``parts`` present in ``table`` (a key of a table, never an array element:
    that would shift the names of the others); False when not even the first is there."""
    node: Any = table
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or not isinstance(part, str) or part not in node:
            return False
        nxt = parts[i + 1] if i + 1 < len(parts) else None
        if nxt is None or not isinstance(node[part], dict) or not isinstance(nxt, str) or nxt not in node[part]:
            del node[part]
            return True
        node = node[part]
    return False


def _keys(node: Any) -> int:
    return sum(1 + _keys(v) for v in node.values()) if isinstance(node, dict) else 0


def every_problem(check: Callable[[Any], T], table: Any, prefix: str = "") -> tuple[T | None, list[ScenarioFileError]]:
    """``check(table)``, and every problem it names in ``table`` (fields relative to ``prefix``, e.g. ``fault[2]``).

    Returns (the result, []) when the table passes, else (the result without the keys the problems name, or None
    when it still does not pass, and the problems in the order found).
    """
    found: list[ScenarioFileError] = []
    if not isinstance(table, Mapping):
        try:
            return check(table), found
        except ScenarioFileError as exc:
            return None, [exc]
    work = copy.deepcopy(dict(table))
    for _ in range(_keys(work) + 1):                     # each round but the last drops a key
        try:
            result = check(work)
        except ScenarioFileError as exc:
            if any(e.path == exc.path for e in found):
                break
            found.append(exc)
            field = exc.path if not prefix else \
                exc.path[len(prefix) + 1:] if exc.path.startswith(prefix + ".") else ""
            if not field or not _drop(work, _parts(field)):
                break
            continue
        return result, found
    return None, found
