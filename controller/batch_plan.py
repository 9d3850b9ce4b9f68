"""A grid of controller configs compiled once for the batch evaluator, with the work they share found.

Each stage of the batch runs once per distinct piece of work, not once per config:

* distinct **input rows** (signal, transform, parameters) → confidences;
* distinct **raw layers** (tuples of input rows) → raw layer values;
* distinct **layer instances** (a raw layer with its layer row: weight, recovery rate, invariant, cap) →
  damped values (damping depends only on the raw series, the rate and the time base);
* distinct **tuples** (a config's instances in layer order) → r_total, grouped further per block by
  the instances that are active in it (see :mod:`controller.batch`);
* every **config** → its postures (thresholds, dwell).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import kernel as k
from .compiled import compile_config
from .config import ControllerConfig
from .errors import BatchInputError

__all__ = ["BatchPlan", "plan_batch"]


@dataclass(frozen=True)
class BatchPlan:
    """Configs compiled once for any number of traces (see :func:`plan_batch`)."""

    signal_names: tuple[str, ...]
    layer_names: tuple[tuple[str, ...], ...]
    G: np.ndarray            # (C, G_SIZE) posture thresholds, dwell, leverage
    n_lay: np.ndarray        # (C,) layers per config
    U: np.ndarray            # (n_inputs, IN_SIZE) distinct input rows (IN_LAYER zeroed)
    L: np.ndarray            # (n_raw, width) input rows of each distinct raw layer (padded with 0)
    n_l: np.ndarray          # (n_raw,) inputs per raw layer
    INST: np.ndarray         # (n_inst, LY_SIZE) layer row of each distinct instance
    inst_layer: np.ndarray   # (n_inst,) its raw layer
    cfg_inst: np.ndarray     # (C, max layers) instance of each config's layer, -1 past its layers
    TUP: np.ndarray          # (n_tup, max layers) distinct rows of cfg_inst
    cfg_tup: np.ndarray      # (C,) tuple of each config

    @property
    def n_configs(self) -> int:
        return int(self.G.shape[0])


def _raw_layers(compiled) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct input rows and distinct raw layers (tuples of distinct inputs) across configs.

    Returns (input rows U, layer table L (padded with 0), inputs per layer, config -> raw layer map).
    """
    inputs: dict[bytes, int] = {}
    layers: dict[tuple[int, ...], int] = {}
    rows: list[np.ndarray] = []
    lmap = np.full((len(compiled), max(c.n_layers for c in compiled)), -1, dtype=np.int64)
    for ci, c in enumerate(compiled):
        members: list[list[int]] = [[] for _ in range(c.n_layers)]
        for i in range(c.n_inputs):
            row = c.inp[i].copy()
            row[k.IN_LAYER] = 0.0
            key = row.tobytes()
            if key not in inputs:
                inputs[key] = len(rows)
                rows.append(row)
            members[int(c.inp[i, k.IN_LAYER])].append(inputs[key])
        for j, m in enumerate(members):
            lmap[ci, j] = layers.setdefault(tuple(m), len(layers))
    width = max(len(m) for m in layers)
    L = np.zeros((len(layers), width), dtype=np.int64)
    n_l = np.zeros(len(layers), dtype=np.int64)
    for m, idx in layers.items():
        L[idx, :len(m)] = m
        n_l[idx] = len(m)
    return np.array(rows).reshape(len(rows), k.IN_SIZE), L, n_l, lmap


def _instances(compiled, lmap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (raw layer, layer row) pairs; returns (rows, raw layer of each, config -> instance map)."""
    seen: dict[tuple[int, bytes], int] = {}
    rows: list[np.ndarray] = []
    cfg_inst = np.full(lmap.shape, -1, dtype=np.int64)
    for ci, c in enumerate(compiled):
        for j in range(c.n_layers):
            key = (int(lmap[ci, j]), c.lay[j].tobytes())
            if key not in seen:
                seen[key] = len(rows)
                rows.append(c.lay[j])
            cfg_inst[ci, j] = seen[key]
    inst_layer = np.array([m for m, _ in seen], dtype=np.int64)
    return np.array(rows).reshape(len(rows), k.LY_SIZE), inst_layer, cfg_inst


def plan_batch(configs: Sequence[ControllerConfig]) -> BatchPlan:
    """Compile ``configs`` and find the work they share, once for many traces."""
    if not configs:
        raise BatchInputError("configs: expected at least one ControllerConfig")
    names: dict[str, None] = {}
    for cfg in configs:
        names.update(dict.fromkeys(cfg.signal_names))
    signal_names = tuple(names)
    compiled = [compile_config(cfg, signal_names) for cfg in configs]
    U, L, n_l, lmap = _raw_layers(compiled)
    INST, inst_layer, cfg_inst = _instances(compiled, lmap)
    TUP, cfg_tup = np.unique(cfg_inst, axis=0, return_inverse=True)
    return BatchPlan(signal_names, tuple(c.layer_names for c in compiled), np.stack([c.g for c in compiled]),
                     np.array([c.n_layers for c in compiled], dtype=np.int64), U, L, n_l, INST, inst_layer,
                     cfg_inst, np.ascontiguousarray(TUP), np.ascontiguousarray(cfg_tup.reshape(-1), dtype=np.int64))
