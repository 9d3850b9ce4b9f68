"""Lets ``pytest scenarios/`` collect the built-in suites' TOML files as test items (see pytest_plugin)."""

from scenarios.pytest_plugin import pytest_addoption, pytest_collect_file  # noqa: F401
