"""Scenarios: the scenario file format, checks, suite runner, exploration and the ``nor`` CLI."""

from .errors import RunDirError, ScenarioError, ScenarioFileError
from .loader import discover, load_scenario, load_scenario_text, load_scenarios
from .model import Expectation, Scenario, SwarmSpec

__all__ = ["Expectation", "RunDirError", "Scenario", "ScenarioError", "ScenarioFileError", "SwarmSpec", "discover",
           "load_scenario", "load_scenario_text", "load_scenarios"]
