"""The fidelity bench heals the real client at stratified phases of its clean-up timer: one heal per
stratum, so the real median over ``n`` heals does not sample the phase."""

from __future__ import annotations

import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from fidelity_client import stratified_phases  # noqa: E402


def test_one_heal_per_stratum_in_a_shuffled_order() -> None:
    phases = stratified_phases(10, 0.1, random.Random(13))
    strata = sorted(int(p / 0.01) for p in phases)
    assert strata == list(range(10))                       # each stratum of 0.01 s exactly once
    assert all(abs(p / 0.01 % 1 - 0.5) < 1e-9 for p in phases)   # at its middle
    assert phases != sorted(phases)                        # not in phase order (shuffled)
    assert stratified_phases(10, 0.1, random.Random(13)) == phases
    assert abs(statistics.median(phases) - 0.05) < 1e-12   # the median is the uniform phase's


def test_odd_count_median_is_the_middle_stratum() -> None:
    phases = stratified_phases(7, 0.1, random.Random(1))
    assert abs(statistics.median(phases) - 0.05) < 1e-12
    assert min(phases) > 0 and max(phases) < 0.1
