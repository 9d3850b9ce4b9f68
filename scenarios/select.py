"""Choosing what ``nor run`` runs: built-in suites by name, ``-k EXPR`` and ``--only NAME``."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Mapping, Sequence

from .errors import ScenarioFileError
from .model import Scenario

__all__ = ["suite_paths", "select_scenarios", "matches"]

_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


def suite_paths(paths: Sequence[str], suites: Mapping[str, Path]) -> list[str | Path]:
    """Each path as given, except a built-in suite's name (that is not an existing path) -> its directory."""
    return [suites[p] if p in suites and not Path(p).exists() else p for p in paths]


def matches(expr: str, name: str) -> bool:
    """``-k`` semantics: words are case-insensitive substrings of ``name``, joined by and/or/not and ( )."""
    tokens = _TOKEN.findall(expr)
    pos = 0

    def fail(expected: str) -> ScenarioFileError:
        return ScenarioFileError("command line", "-k", f"{expected} in a -k expression (words, and, or, not, ( ))",
                                 expr)

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom() -> bool:
        tok = peek()
        if tok is None or tok in (")", "and", "or"):
            raise fail("a word or '('")
        take()
        if tok == "not":
            return not atom()
        if tok == "(":
            value = disjunction()
            if peek() != ")":
                raise fail("a closing ')'")
            take()
            return value
        return tok.lower() in name.lower()

    def conjunction() -> bool:
        value = atom()
        while peek() == "and":
            take()
            value = atom() & value
        return value

    def disjunction() -> bool:
        value = conjunction()
        while peek() == "or":
            take()
            value = conjunction() | value
        return value

    if not tokens:
        raise fail("at least one word")
    value = disjunction()
    if peek() is not None:
        raise fail(f"an operator before {peek()!r}")
    return value


def select_scenarios(scenarios: Sequence[Scenario], expr: str | None, only: Sequence[str] | None,
                     tags: Sequence[str] | None = None) -> list[Scenario]:
    """The scenarios named by ``--only`` (each must exist: "did you mean"), with any of ``tags``, and matching
    ``-k``; exit 2 if none is left."""
    names = [s.name for s in scenarios]
    chosen = list(scenarios)
    if tags:
        known = sorted({t for s in scenarios for t in s.tags})
        for tag in tags:
            if tag not in known:
                near = difflib.get_close_matches(tag, known, n=3)
                hint = f" (did you mean {', '.join(near)}?)" if near else f" (tags in use: {', '.join(known) or 'none'})"
                raise ScenarioFileError("command line", "--tags", f"a tag of a scenario being run{hint}", tag)
        chosen = [s for s in chosen if set(s.tags) & set(tags)]
    if only:
        for name in only:
            if name not in names:
                near = difflib.get_close_matches(name, names, n=3)
                hint = f" (did you mean {', '.join(near)}?)" if near else ""
                raise ScenarioFileError("command line", "--only", f"the name of a scenario being run{hint}", name)
        chosen = [s for s in chosen if s.name in only]
    if expr is not None:
        matches(expr, "")                                  # a malformed expression is an error even if nothing runs
        chosen = [s for s in chosen if matches(expr, s.name)]
    if not chosen:
        raise ScenarioFileError("command line", "-k/--only/--tags", "an expression that selects at least one scenario", expr)
    return chosen
