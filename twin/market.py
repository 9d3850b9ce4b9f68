"""The market: N correlated assets with regimes and shocks, or a replayed price file.

Synthetic returns follow a factor model (one market factor, sector factors, idiosyncratic noise)
generated in vectorised blocks; a regime (calm, trending, crash) sets volatility, correlation
and drift. A shock drops prices at once, forces a crash regime for a while and raises the
shock level that moves DVOL and the taker ratio read by the ExF sensor.

**Planted edge** (``edge_drift_bps``): after a scan whose vel_div per asset is below
``-edge_threshold`` (the scanner reports every scan to :meth:`Market.on_scan`), each of the scan's
top-ranked assets that is not already drifting drifts by ``edge_drift_bps`` (log price, linear
ramp) over the next ``edge_horizon_s``, on top of the random path. This is a planted edge, so
the DOLPHIN signal makes money on average and the survival controller's performance tax becomes
measurable; it is not evidence that the real signal has an edge. A replayed price file gets no edge. Same scans, same drifts: the edge
never depends on the controller or the agent.
"""

from __future__ import annotations

import bisect
import math
from typing import Callable

import numpy as np

from .config import MarketConfig
from .replay import load_replay
from .rng import Streams
from .validate import number

__all__ = ["Market", "REGIME_CODES"]

REGIME_CODES = {"calm": 0, "trending": 1, "crash": 2}
_NAMES = ("calm", "trending", "crash")
# per regime: volatility multiplier, market-factor share, sector-factor share, drift in sigmas/step
_VOL = np.array([1.0, 1.3, 4.0])
_RHO_M = np.array([0.30, 0.45, 0.80])
_RHO_S = np.array([0.15, 0.15, 0.08])
_DRIFT = np.array([0.0, 0.004, -0.03])
_LIQUIDITY = (1.0, 0.9, 0.4)
_MIXED_MEAN_S = (6 * 3600.0, 2 * 3600.0, 1200.0)
_MIXED_NEXT = ((0.0, 0.85, 0.15), (0.8, 0.0, 0.2), (0.7, 0.3, 0.0))
_SHOCK_TAU_S = 1800.0
_SHOCK_DROP = 0.08
_BLOCK_S = 3600.0
DVOL_BASE = 50.0


class Market:
    """Prices on a fixed step grid. Its fault port is :class:`twin.ports.MarketPort`."""

    def __init__(self, cfg: MarketConfig, streams: Streams, now: Callable[[], float],
                 record: Callable[..., None]) -> None:
        self.cfg = cfg
        self.step_s = cfg.step_s
        self._now = now
        self._record = record
        self._rng = streams.generator("market")
        self._replay = load_replay(cfg.replay_path, cfg.step_s) if cfg.replay_path else None
        self.n_assets = self._replay.n_assets if self._replay else cfg.assets
        n = self.n_assets
        self.sector = np.arange(n) % cfg.sectors
        setup = streams.generator("market.setup")
        per_step = cfg.vol_annual / math.sqrt(365.0 * 86400.0 / cfg.step_s)
        self.sigma = per_step * setup.uniform(0.7, 1.5, n)
        self.beta = setup.uniform(0.7, 1.3, n)
        self._start_log = np.log(setup.uniform(5.0, 500.0, n))
        self._block_steps = max(1, int(round(_BLOCK_S / cfg.step_s)))
        self._segments: list[tuple[int, int]] = []   # (start step, regime code), scheduled regimes
        self._forced: list[tuple[int, int]] = []     # (start, end) steps forced into crash by shocks
        self._jump_steps: list[int] = []
        self._jumps: list[np.ndarray] = []           # cumulative log-price offsets from each jump on
        self._shocks: list[tuple[float, float]] = []  # (t_s, magnitude)
        self._rc_step, self._rc_code = -1, 0
        self._edge_settled = np.zeros(n)             # log offsets of finished edge drifts
        self._edge_active: list[tuple[int, int, float, np.ndarray]] = []   # (start, end step, amount, mask)
        self._settled_of: list[float] = [0.0] * n    # _edge_settled per asset, and each asset's active drifts
        self._edge_of: list[list[tuple[int, int, float]]] = [[] for _ in range(n)]   # (one price reads only these)
        self._edge_busy_until = np.full(n, -1, dtype=np.int64)
        self._fold_off, self._fold_idx, self._fold_step = self._edge_settled, 0, 0    # see _edge_offset
        self.edge_episodes = 0
        self._init_regimes()
        self._block0 = 0
        self._logp = self._generate(0, self._start_log)

    # -- regimes ----------------------------------------------------------------------------
    def _init_regimes(self) -> None:
        if self.cfg.regime != "mixed":
            self._segments = [(0, REGIME_CODES[self.cfg.regime])]
            return
        self._segments = [(0, 0)]
        self._extend_segments(self._block_steps)

    def _extend_segments(self, upto_step: int) -> None:
        if self.cfg.regime != "mixed":
            return
        start, code = self._segments[-1]
        while start <= upto_step:
            dur = max(1, int(self._rng.exponential(_MIXED_MEAN_S[code]) / self.step_s))
            start += dur
            code = int(self._rng.choice(3, p=_MIXED_NEXT[code]))
            self._segments.append((start, code))
            self._record("regime", "market", {"regime": _NAMES[code]}, start * self.step_s)

    def _regime_codes(self, s0: int, count: int) -> np.ndarray:
        self._extend_segments(s0 + count)
        codes = np.empty(count, dtype=np.int64)
        starts = [s for s, _ in self._segments]
        for i, (start, code) in enumerate(self._segments):
            end = starts[i + 1] if i + 1 < len(starts) else s0 + count
            lo, hi = max(start, s0), min(end, s0 + count)
            if lo < hi:
                codes[lo - s0:hi - s0] = code
        for a, b in self._forced:
            lo, hi = max(a, s0), min(b, s0 + count)
            if lo < hi:
                codes[lo - s0:hi - s0] = 2
        return codes

    # -- generation -------------------------------------------------------------------------
    def _generate(self, s0: int, start_log: np.ndarray) -> np.ndarray:
        """Log prices for steps s0 .. s0+block (row 0 = ``start_log``)."""
        count = self._block_steps
        if self._replay is not None:
            return self._replay.rows(s0, count + 1)
        codes = self._regime_codes(s0, count)
        rng = self._rng
        n = self.n_assets
        e = rng.standard_normal((count, n))
        fm = rng.standard_normal(count)
        fs = rng.standard_normal((count, self.cfg.sectors))
        vol, rm, rs, drift = _VOL[codes], _RHO_M[codes], _RHO_S[codes], _DRIFT[codes]
        e *= np.sqrt(1.0 - rm - rs)[:, None]
        e += (np.sqrt(rm) * fm)[:, None] * self.beta[None, :]
        e += np.sqrt(rs)[:, None] * fs[:, self.sector]
        e += drift[:, None]
        e *= vol[:, None] * self.sigma[None, :]
        out = np.empty((count + 1, n))
        out[0] = start_log
        np.cumsum(e, axis=0, out=out[1:])
        out[1:] += start_log
        return out

    def _row(self, step: int) -> np.ndarray:
        while step > self._block0 + self._block_steps:
            start = self._logp[-1].copy()
            self._block0 += self._block_steps
            self._logp = self._generate(self._block0, start)
            self._settle_edges()
        if step < self._block0:
            raise ValueError(f"market: step {step} is before the current block {self._block0}")
        return self._logp[step - self._block0]

    # -- planted edge -----------------------------------------------------------------------
    def on_scan(self, t_s: float, vel_div_per_asset: float, ranked: tuple[int, ...]) -> None:
        """A scan at ``t_s``: after a plunge below ``-edge_threshold``, plant the edge on ``ranked``."""
        cfg = self.cfg
        if cfg.edge_drift_bps == 0.0 or self._replay is not None or not vel_div_per_asset < -cfg.edge_threshold or not ranked:
            return
        s0 = self.step_of(t_s) + 1
        idx = np.asarray(ranked, dtype=np.int64)
        idx = idx[self._edge_busy_until[idx] < s0]
        if idx.size == 0:
            return
        s1 = s0 + max(1, int(round(cfg.edge_horizon_s / self.step_s)))
        mask = np.zeros(self.n_assets)
        mask[idx] = 1.0
        self._edge_busy_until[idx] = s1
        self._edge_active.append((s0, s1, cfg.edge_drift_bps * 1e-4, mask))
        for a in np.flatnonzero(mask).tolist():
            self._edge_of[a].append((s0, s1, cfg.edge_drift_bps * 1e-4))
        self.edge_episodes += 1

    def _edge_offset(self, step: int) -> np.ndarray | None:
        if not self.edge_episodes:
            return None
        active = self._edge_active
        if step >= self._fold_step:
            # Drifts finish in the order they started (one horizon each), so the finished ones are a prefix of
            # the active list: keep them added up, in that order (each asset's sum is the same float as below).
            i, fold = self._fold_idx, self._fold_off
            while i < len(active) and active[i][1] <= step:
                fold = fold + active[i][2] * active[i][3]
                i += 1
            self._fold_idx, self._fold_off, self._fold_step = i, fold, step
            off = fold.copy()
        else:                                   # an earlier step than already folded: from the settled offsets
            i, off = 0, self._edge_settled.copy()
        for s0, s1, amount, mask in active[i:]:
            if step > s0:
                off += (amount * min(1.0, (step - s0) / (s1 - s0))) * mask
        return off

    def _edge_offset_one(self, asset: int, step: int) -> float:
        off = self._settled_of[asset]
        for s0, s1, amount in self._edge_of[asset]:
            if step > s0:
                off += amount * min(1.0, (step - s0) / (s1 - s0))
        return off

    def _settle_edges(self) -> None:
        """Fold drifts finished before the current block into the settled offsets (never read earlier)."""
        keep = []
        for ep in self._edge_active:
            if ep[1] <= self._block0:
                self._edge_settled += ep[2] * ep[3]
            else:
                keep.append(ep)
        self._edge_active = keep
        self._fold_off, self._fold_idx, self._fold_step = self._edge_settled, 0, self._block0
        self._settled_of = self._edge_settled.tolist()
        self._edge_of = [[] for _ in range(self.n_assets)]
        for s0, s1, amount, mask in keep:
            for a in np.flatnonzero(mask).tolist():
                self._edge_of[a].append((s0, s1, amount))

    def step_of(self, t_s: float) -> int:
        return int(t_s / self.step_s + 1e-9)

    # -- reading ----------------------------------------------------------------------------
    def log_prices(self, t_s: float) -> np.ndarray:
        """Log prices of all assets at ``t_s`` (a fresh array)."""
        step = self.step_of(t_s)
        row = self._row(step)
        edge = self._edge_offset(step)
        if self._jump_steps and step >= self._jump_steps[0]:
            row = row + self._jumps[bisect.bisect_right(self._jump_steps, step) - 1]
            return row if edge is None else row + edge
        return row.copy() if edge is None else row + edge

    def price(self, asset: int, t_s: float) -> float:
        step = int(t_s / self.step_s + 1e-9)
        i = step - self._block0
        value = float(self._logp[i, asset] if 0 <= i <= self._block_steps else self._row(step)[asset])
        jump_steps = self._jump_steps
        if jump_steps and step >= jump_steps[0]:
            value += float(self._jumps[bisect.bisect_right(jump_steps, step) - 1][asset])
        if self.edge_episodes:
            value += self._edge_offset_one(asset, step)
        return math.exp(value)

    def regime_code(self, t_s: float) -> int:
        step = self.step_of(t_s)
        if step == self._rc_step:
            return self._rc_code
        code = self._regime_code(step)
        self._rc_step, self._rc_code = step, code
        return code

    def _regime_code(self, step: int) -> int:
        for a, b in self._forced:
            if a <= step < b:
                return 2
        code = self._segments[0][1]
        for start, c in self._segments:
            if start > step:
                break
            code = c
        return code

    def regime(self, t_s: float) -> str:
        return _NAMES[self.regime_code(t_s)]

    def liquidity(self, t_s: float) -> float:
        """Book depth factor of the current regime (1.0 calm, lower in a crash)."""
        if int(t_s / self.step_s + 1e-9) == self._rc_step:     # :meth:`regime_code`'s cached step, inline
            return _LIQUIDITY[self._rc_code]
        return _LIQUIDITY[self.regime_code(t_s)]

    def shock_level(self, t_s: float) -> float:
        level = 0.0
        for t0, m in self._shocks:
            if t0 <= t_s:
                level += m * math.exp(-(t_s - t0) / _SHOCK_TAU_S)
        return min(1.0, level)

    def exf_state(self, t_s: float) -> tuple[float, float, float]:
        """(DVOL, funding rate, taker buy ratio) at ``t_s``."""
        shock = self.shock_level(t_s)
        code = self.regime_code(t_s)
        dvol = DVOL_BASE * math.sqrt(_VOL[code]) * (1.0 + 1.5 * shock)
        taker = 0.5 - 0.35 * shock - (0.1 if code == 2 else 0.0)
        funding = 0.0001 * (1.0 if code == 1 else (-2.0 if code == 2 else 0.2)) - 0.0005 * shock
        return dvol, funding, taker

    def history_returns(self, scans: int, interval_s: float) -> np.ndarray:
        """Calm-regime returns of ``scans`` past scan intervals, for warm-starting the scanner."""
        rng = np.random.Generator(np.random.PCG64(self._rng.integers(2**63)))
        k = math.sqrt(max(interval_s / self.step_s, 1.0))
        e = rng.standard_normal((scans, self.n_assets)) * math.sqrt(1.0 - _RHO_M[0] - _RHO_S[0])
        e += (math.sqrt(_RHO_M[0]) * rng.standard_normal(scans))[:, None] * self.beta[None, :]
        e += math.sqrt(_RHO_S[0]) * rng.standard_normal((scans, self.cfg.sectors))[:, self.sector]
        return e * (k * self.sigma)[None, :]

    # -- fault port -------------------------------------------------------------------------
    def shock(self, magnitude: float, duration_s: float | None = None) -> None:
        """A market shock now: prices drop by up to 8 % × magnitude × beta, a crash regime for
        ``duration_s`` (default ``shock_crash_s × magnitude``), DVOL up and taker ratio down."""
        magnitude = number("market.shock", "magnitude", magnitude, 0.0, 1.0)
        dur = (self.cfg.shock_crash_s * magnitude if duration_s is None
               else number("market.shock", "duration_s", duration_s, 0.0))
        now = self._now()
        step = self.step_of(now)
        self._shocks.append((now, magnitude))
        prev = self._jumps[-1] if self._jumps else np.zeros(self.n_assets)
        self._jump_steps.append(step + 1)
        self._jumps.append(prev - _SHOCK_DROP * magnitude * self.beta)
        self._rc_step = -1
        if dur > 0 and self._replay is None:
            self._forced.append((step + 1, step + 1 + int(dur / self.step_s)))
            self._regenerate_after(step)
        self._record("market_shock", "market", {"magnitude": magnitude, "crash_s": dur})

    def _regenerate_after(self, step: int) -> None:
        """Redraw the path after ``step`` (a forced regime changed it); earlier rows are never read again."""
        row = self._row(step).copy()
        self._block0 = step
        self._logp = self._generate(step, row)
