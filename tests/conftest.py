"""Shared fixtures for the whole suite."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _no_real_promotion_keys(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user's promotion keys: the config directory is a temporary one."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
    monkeypatch.delenv("NOR_PROMOTION_KEY_FILE", raising=False)
    monkeypatch.delenv("NOR_PROMOTION_TRUSTED_KEYS", raising=False)
