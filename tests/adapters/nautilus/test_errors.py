"""Every error the adapter raises is a ``NautilusAdapterError`` (and still the builtin it was)."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.nautilus import (
    ActorConfigError,
    InterfaceError,
    LiveSignalFeed,
    NautilusAdapterError,
    ReplaySignalSource,
    SourceError,
    SurvivalActor,
    SurvivalActorConfig,
    signal_trace_from_columns,
)
from controller import NOMINAL_SIGNALS, SurvivalController, default_config


def _trace(rows: int = 3):
    cols = {"t_s": np.arange(rows, dtype=float)}
    cols.update({name: np.full(rows, value) for name, value in NOMINAL_SIGNALS.items()})
    return signal_trace_from_columns("errors", cols)


def _raises(exc_type: type, builtin: type, match: str, fn, *args, **kwargs) -> None:
    with pytest.raises(exc_type, match=match) as info:
        fn(*args, **kwargs)
    assert isinstance(info.value, NautilusAdapterError) and isinstance(info.value, builtin)


def test_actor_settings_and_controller_errors_are_adapter_errors() -> None:
    source = ReplaySignalSource(_trace())
    ctl = SurvivalController(default_config())
    _raises(ActorConfigError, ValueError, r"SurvivalActorConfig.interval_s: expected seconds > 0",
            SurvivalActor, ctl, source, SurvivalActorConfig(interval_s=0.0))
    _raises(InterfaceError, TypeError, r"controller object has no step\(now_s, signals\)",
            SurvivalActor, object(), source)


def test_replay_source_errors_are_adapter_errors() -> None:
    _raises(SourceError, ValueError, r"ReplaySignalSource.origin_ns: expected > 0", ReplaySignalSource, _trace(), 0)
    _raises(SourceError, ValueError, r"ReplaySignalSource.event_rows: has 2 entries; expected one per trace row \(3\)",
            ReplaySignalSource, _trace(3), event_rows=[True, False])


def test_live_feed_errors_are_adapter_errors() -> None:
    _raises(InterfaceError, TypeError, r"LiveSignalFeed: dict is not a SignalSource: it has no signals\(\)",
            LiveSignalFeed, {})
