"""Property-based fuzzing of everything a user can hand to ``nor validate``.

The built-in scenario files and the default controller config are parsed, mutated as an adversary
would (types, sizes, nesting, names, paths, unicode, integers beyond 64 bits, non-finite floats,
deleted and unknown keys, damaged TOML text) and validated in-process through the CLI's ``main``.
Every input must end in exit 0, or exit 2 with the file and a field named — never a traceback, never
exit 1 or 3, never a file written anywhere. A few mutated inputs also go through real ``nor``
subprocesses. ``NOR_FUZZ_EXAMPLES`` (default 300 per property) sets the budget; when it is set the
search is also randomised (CI runs the same derandomised examples every time).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller import default_config
from scenarios.cli import DEFAULT_SUITE, SMOKE_SUITE, main

EXAMPLES = int(os.environ.get("NOR_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="NOR_FUZZ_EXAMPLES" not in os.environ,
                database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BUILT_IN = sorted(DEFAULT_SUITE.glob("*.toml")) + sorted(SMOKE_SUITE.glob("*.toml"))
SCENARIOS = [(p.name, tomllib.loads(p.read_text(encoding="utf-8"))) for p in BUILT_IN]
CONFIG = default_config().to_dict()
SMALL = SMOKE_SUITE / "smoke_quorum_lost.toml"

# -- a TOML writer for arbitrary plain data (inline tables/arrays only; every key quoted) ---------


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def to_toml(doc: dict[str, Any]) -> str:
    return "".join(f"{_toml(str(k))} = {_toml(v)}\n" for k, v in doc.items())


# -- hostile values and mutations ------------------------------------------------------------------

NASTY_TEXT = ["../x", "../../escaped", "/abs/path", ".", "..", "a/b", "x\x00y", "é" * 300, "9" * 400 + "h",
              "1e300s", "/etc/passwd", "/dev/zero", "/tmp", "/proc/self/mem", "sample", "", " ", "\n", "5m", "-5m",
              "1h30m", "0s", "nan", "inf", "ｎａｍｅ", "\u202e", "APEX", "hibernate", "fault[0].start+5m",
              "fault[99].end", "end-1h", "survival", "static_ladder", "../../../../etc/passwd", "C:\\x", "~/x"]


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def hostile_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.integers(-10, 10 ** 6), st.integers(min_value=2 ** 63 - 2, max_value=2 ** 64 + 2),
        st.sampled_from([10 ** 400, -10 ** 400, 10 ** 19, -1, 0]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([1e300, -1e300, 5e-324, -0.0, 0.5, 1.0, 0.9, 0.1]),
        st.text(max_size=12), st.sampled_from(NASTY_TEXT), st.booleans())
    return st.one_of(
        scalars,
        st.lists(scalars, max_size=4),
        st.builds(_nested, st.sampled_from([2, 17, 40, 100]), scalars),      # deeper: the text-level tests
        st.builds(lambda n, v: [v] * n, st.sampled_from([0, 10_001, 20_000]), st.integers(0, 3)),
        st.dictionaries(st.one_of(st.text(max_size=6), st.sampled_from(["base", "name", "layers", "for"])),
                        scalars, max_size=3))


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads(json.dumps(base))           # a deep copy of plain data
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        op = draw(st.sampled_from(["set", "set", "set", "delete", "add"]))
        if op == "add" or not paths:
            tables = [()] + [p for p in paths if isinstance(_parent(doc, p + (None,)), dict)]
            where = draw(st.sampled_from(tables))
            target = _parent(doc, where + (None,))
            key = draw(st.one_of(st.sampled_from(["name", "seeds", "duration", "controller", "market", "fault",
                                                  "expect", "weight", "replay_path", "nonsense", "max"]),
                                 st.text(max_size=8)))
            target[key] = draw(hostile_values())
            continue
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        if op == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(hostile_values())
    return doc


def damaged_text() -> st.SearchStrategy[str]:
    return st.builds(lambda text, cut, junk: text[:cut] + junk + text[cut:],
                     st.sampled_from([p.read_text(encoding="utf-8") for p in BUILT_IN[:6]]),
                     st.integers(0, 400), st.sampled_from(["[", "]]", "=", '"', "\x00", "{", "\\u0000", "'''",
                                                           "[[fault]]\n", "\n[market]\nreplay_path = 5\n"]))


# -- the property ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _in(directory: Path):
    old = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(old)


def _check_validate(sandbox: Path, file: Path, argv: list[str]) -> None:
    before = sorted(sandbox.rglob("*"))
    err = io.StringIO()
    with _in(sandbox), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    text = err.getvalue()
    assert code in (0, 2), (code, text[:500])
    assert "Traceback" not in text and "internal error" not in text, text[:500]
    if code == 2:
        first = text.splitlines()[0]
        assert first.startswith(f"nor: invalid input: {file}: ") or first.startswith(
            "nor: invalid input: command line: --controller: "), first[:300]
        assert len(first) < 2000, "an error message must stay short"
    assert sorted(sandbox.rglob("*")) == before, "validate wrote a file"


_sandbox_counter = [0]


def _sandbox(root: Path) -> Path:
    _sandbox_counter[0] += 1
    d = root / f"s{_sandbox_counter[0]}"
    d.mkdir()
    return d


@FUZZ
@given(data=st.data())
def test_mutated_scenario_files_validate_cleanly(tmp_path_factory, data) -> None:
    name, base = data.draw(st.sampled_from(SCENARIOS), label="built-in scenario")
    doc = data.draw(mutated(base), label="mutated")
    sandbox = _sandbox(tmp_path_factory.getbasetemp())
    file = sandbox / name
    file.write_text(to_toml(doc), encoding="utf-8")
    _check_validate(sandbox, file, ["validate", str(file)])


@FUZZ
@given(text=damaged_text())
def test_damaged_scenario_text_validates_cleanly(tmp_path_factory, text) -> None:
    sandbox = _sandbox(tmp_path_factory.getbasetemp())
    file = sandbox / "damaged.toml"
    file.write_text(text, encoding="utf-8")
    _check_validate(sandbox, file, ["validate", str(file)])


@FUZZ
@given(data=st.data())
def test_mutated_controller_configs_validate_cleanly(tmp_path_factory, data) -> None:
    doc = data.draw(mutated(CONFIG), label="mutated config")
    sandbox = _sandbox(tmp_path_factory.getbasetemp())
    file = sandbox / "controller.toml"
    file.write_text(to_toml(doc), encoding="utf-8")
    _check_validate(sandbox, file, ["validate", str(SMALL), "--controller", str(file)])


def test_a_few_mutated_inputs_through_real_nor_processes(tmp_path) -> None:
    """Real subprocesses: validate three hostile files and run one; nothing lands outside --out."""
    nor = str(Path(sys.executable).parent / "nor")
    work = tmp_path / "work"
    work.mkdir()
    files = {
        "deep.toml": 'name = "p"\nduration = "1h"\nseeds = ' + "[" * 600 + "]" * 600 + "\n",
        "huge.toml": 'name = "p"\nduration = 1' + "0" * 400 + "\n",
        "escape.toml": 'name = "../../escaped"\nduration = "3m"\ncompanions = []\n',
    }
    for fname, text in files.items():
        (work / fname).write_text(text, encoding="utf-8")
        proc = subprocess.run([nor, "validate", str(work / fname)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and f"{work / fname}: " in proc.stderr and "Traceback" not in proc.stderr
    ok = work / "ok.toml"
    ok.write_text('name = "ok_run"\nduration = "3m"\ncompanions = []\nseeds = [7]\n', encoding="utf-8")
    proc = subprocess.run([nor, "run", str(ok), "--out", str(work / "runs"), "--jobs", "1", "--no-report"],
                          capture_output=True, text=True, timeout=300, cwd=work)
    assert proc.returncode == 0, proc.stderr[-2000:]
    outside = {p.relative_to(tmp_path).parts[:2] for p in tmp_path.rglob("*")}
    assert outside <= {("work",), ("work", "runs")} | {("work", f) for f in [*files, "ok.toml"]}
