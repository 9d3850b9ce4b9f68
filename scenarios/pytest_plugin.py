"""A pytest plugin: scenario TOML files become test items (one per seed), so suites run with ordinary
pytest reporting and ``--junitxml``.

    pytest scenarios/default                     # via scenarios/conftest.py
    pytest -p scenarios.pytest_plugin my_suite/  # anywhere else

Options: ``--nor-seeds N`` (seeds 1..N), ``--nor-controller NAME|PATH``, ``--nor-no-companions``.
"""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pytest

from traceio import case_dir_name

from .case import CaseResult, run_case
from .errors import ScenarioError
from .loader import controller_option, load_scenario
from .model import Scenario

__all__ = ["pytest_addoption", "pytest_collect_file", "ScenarioFile", "ScenarioItem"]


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("nor", "scenario suites (dolphin-nor)")
    group.addoption("--nor-seeds", type=int, default=None, help="run seeds 1..N of every scenario file")
    group.addoption("--nor-controller", default=None, help="base controller: name or controller TOML path")
    group.addoption("--nor-no-companions", action="store_true", help="skip comparison runs not needed by a check")


def _is_scenario(path: Path) -> bool:
    if path.suffix != ".toml" or path.name == "pyproject.toml":
        return False
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True          # let the loader report it as an invalid scenario file
    return "duration" in data and "name" in data


def pytest_collect_file(file_path: Path, parent: Any) -> "ScenarioFile | None":
    if _is_scenario(Path(file_path)):
        return ScenarioFile.from_parent(parent, path=Path(file_path))
    return None


class ScenarioFileInvalid(Exception):
    """A scenario file failed validation (reported as a collection error with the loader's message)."""


class ScenarioFile(pytest.File):
    """One scenario file: one item per seed."""

    def collect(self) -> Iterator["ScenarioItem"]:
        opts = self.config.option
        try:
            controller = None if opts.nor_controller is None else controller_option(opts.nor_controller,
                                                                                      "--nor-controller")
            scenario = load_scenario(self.path, controller=controller)
        except ScenarioError as exc:
            raise ScenarioFileInvalid(str(exc)) from None
        if opts.nor_seeds:
            scenario = replace(scenario, seeds=tuple(range(1, opts.nor_seeds + 1)))
        for seed in scenario.seeds:
            yield ScenarioItem.from_parent(self, name=f"{scenario.name}[seed={seed}]", scenario=scenario, seed=seed)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:  # type: ignore[override]
        if excinfo.errisinstance(ScenarioFileInvalid):
            return f"invalid scenario file: {excinfo.value}"
        return super().repr_failure(excinfo)


class ScenarioCaseFailed(Exception):
    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.verdict)
        self.result = result


class ScenarioItem(pytest.Item):
    """One scenario at one seed, run on the twin and judged by every check."""

    def __init__(self, *, scenario: Scenario, seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.seed = seed

    def runtest(self) -> None:
        base = self.config._tmp_path_factory.mktemp("nor")  # noqa: SLF001 - pytest's own tmp factory
        companions = self.scenario.companions_needed(not self.config.option.nor_no_companions)
        rel = case_dir_name(self.scenario.name, self.seed)
        case_dir = base / rel
        result = run_case(self.scenario, self.seed, case_dir, rel, companions)
        self.user_properties.append(("verdict", result.verdict))
        self.user_properties.append(("case_dir", str(case_dir)))
        if result.verdict != "PASS":
            raise ScenarioCaseFailed(result)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:  # type: ignore[override]
        if not excinfo.errisinstance(ScenarioCaseFailed):
            return super().repr_failure(excinfo)
        r: CaseResult = excinfo.value.result
        lines = [f"{r.verdict}: {self.scenario.name} seed={self.seed} ({self.scenario.file})"]
        lines += [f"  [{c.kind}] {c.check} at t={c.t_s:.1f}s: {c.message}" for c in r.failures]
        if r.error:
            lines.append(f"  error: {r.error}")
        lines.append(f"  reproduce: {self.reproduce_command()}")
        return "\n".join(lines)

    def reproduce_command(self) -> str:
        """The ``nor run`` line that runs exactly this case: this file, this seed, the same controller."""
        opts = self.config.option
        argv = ["nor", "run", str(Path(self.scenario.file).resolve()), "--seed", str(self.seed)]
        if opts.nor_controller is not None:
            argv += ["--controller", controller_option(opts.nor_controller, "--nor-controller")]
        if opts.nor_no_companions:
            argv.append("--no-companions")
        return shlex.join(argv)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.scenario.name} seed={self.seed}"
