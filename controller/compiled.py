"""Compile a :class:`ControllerConfig` into the kernel's arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernel as k
from .config import ControllerConfig
from .posture import Posture
from .transforms import TRANSFORMS

__all__ = ["CompiledConfig", "compile_config"]


@dataclass(frozen=True, eq=False)
class CompiledConfig:
    """Kernel arrays of one config, plus the names needed to read its outputs."""

    config: ControllerConfig
    g: np.ndarray
    lay: np.ndarray
    inp: np.ndarray
    signal_names: tuple[str, ...]
    layer_names: tuple[str, ...]
    input_signals: tuple[str, ...]
    input_layers: tuple[int, ...]

    @property
    def n_layers(self) -> int:
        return self.lay.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.inp.shape[0]

    @property
    def invariant_signals(self) -> frozenset[str]:
        return frozenset(i.signal for ly in self.config.layers if ly.invariant for i in ly.inputs)


def _global_row(config: ControllerConfig) -> np.ndarray:
    g = np.zeros(k.G_SIZE)
    for p in Posture:
        band = config.postures.band(p)
        g[k.G_ENTER + p] = band.enter
        g[k.G_LEAVE + p] = band.leave
        g[k.G_DWELL + p] = band.min_dwell_s
        g[k.G_LEVERAGE + p] = band.max_leverage
    return g


def compile_config(config: ControllerConfig, signal_names: tuple[str, ...] | None = None) -> CompiledConfig:
    """Kernel arrays for ``config``; signal columns follow ``signal_names`` (default: the config's own)."""
    names = config.signal_names if signal_names is None else tuple(signal_names)
    column = {n: i for i, n in enumerate(names)}
    missing = [s for s in config.signal_names if s not in column]
    if missing:
        raise KeyError(f"signal columns missing for {', '.join(missing)}")
    lay = np.zeros((len(config.layers), k.LY_SIZE))
    rows, input_signals, input_layers = [], [], []
    for j, layer in enumerate(config.layers):
        lay[j, k.LY_WEIGHT] = layer.weight
        lay[j, k.LY_RATE] = layer.recovery_per_min / 60.0
        lay[j, k.LY_INVARIANT] = 1.0 if layer.invariant else 0.0
        lay[j, k.LY_CAP_BELOW] = -1.0 if layer.cap_below is None else layer.cap_below
        lay[j, k.LY_CAP] = 3.0 if layer.posture_cap is None else float(layer.posture_cap)
        for inp in layer.inputs:
            rows.append(TRANSFORMS[inp.transform].row(column[inp.signal], j, dict(inp.params)))
            input_signals.append(inp.signal)
            input_layers.append(j)
    return CompiledConfig(
        config=config, g=_global_row(config), lay=lay, inp=np.array(rows).reshape(len(rows), k.IN_SIZE),
        signal_names=names, layer_names=tuple(ly.name for ly in config.layers),
        input_signals=tuple(input_signals), input_layers=tuple(input_layers),
    )
