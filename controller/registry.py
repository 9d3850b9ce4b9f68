"""Controllers by name: ``survival`` (the default config), the baselines, a config or a TOML path."""

from __future__ import annotations

from pathlib import Path

from .baselines import BASELINES
from .config import ControllerConfig
from .defaults import default_config
from .errors import ConfigError
from .survival import SurvivalController
from .toml_io import load_config

__all__ = ["CONTROLLER_NAMES", "make_controller", "resolve_config"]

CONTROLLER_NAMES = ("survival", "static_ladder", "seed_template", "uncontrolled")


def resolve_config(spec: str | Path | ControllerConfig) -> ControllerConfig:
    """The config named by ``spec``: a controller name, a TOML path, or a config."""
    if isinstance(spec, ControllerConfig):
        return spec
    text = str(spec)
    if text == "survival":
        return default_config()
    if text in BASELINES:
        return BASELINES[text]().config
    if text.endswith(".toml") or Path(text).exists():
        return load_config(text)
    raise ConfigError("<controller>", "controller", f"one of {', '.join(CONTROLLER_NAMES)} or a .toml path", text)


def make_controller(spec: str | Path | ControllerConfig) -> SurvivalController:
    """A fresh controller for ``spec`` (see :func:`resolve_config`)."""
    return SurvivalController(resolve_config(spec))
