"""Faults: the fault vocabulary, random schedules, and the embedded Toxiproxy-compatible TCP fault proxy."""
