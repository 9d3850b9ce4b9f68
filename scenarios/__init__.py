"""Scenarios: the scenario file format, checks, suite runner, exploration, promotion and the nor CLI."""
