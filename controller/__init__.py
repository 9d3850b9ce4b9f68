"""The DOLPHIN survival controller: health signals in, risk multiplier and posture out.

Pure: imports no other project package and no infrastructure library.
"""

from .baselines import BASELINES, SeedTemplateController, StaticLadderController
from .batch import BatchResult, evaluate_batch
from .categories import Category, categories, category, register_category
from .config import ControllerConfig, InputConfig, LayerConfig, PostureBand, PostureConfig, check_design_limits
from .decision import Decision
from .defaults import NOMINAL_SIGNALS, default_config
from .errors import ConfigError, ControllerError
from .posture import Posture
from .registry import CONTROLLER_NAMES, make_controller
from .survival import SurvivalController
from .toml_io import apply_overrides, dump_config, load_config

SIGNALS: tuple[str, ...] = tuple(NOMINAL_SIGNALS)
"""The default signal names."""

__all__ = [
    "BASELINES", "BatchResult", "CONTROLLER_NAMES", "Category", "ConfigError", "ControllerConfig",
    "ControllerError", "Decision", "InputConfig", "LayerConfig", "NOMINAL_SIGNALS", "Posture",
    "PostureBand", "PostureConfig", "SIGNALS", "SeedTemplateController", "StaticLadderController",
    "SurvivalController", "apply_overrides", "categories", "category", "check_design_limits", "default_config",
    "dump_config",
    "evaluate_batch", "load_config", "make_controller", "register_category",
]
