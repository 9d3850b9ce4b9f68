"""Postures: the closed set of operating modes, ordered from most to least defensive."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Posture", "POSTURES"]


class Posture(IntEnum):
    """Operating posture. Ordered: ``HIBERNATE < TURTLE < STALKER < APEX``."""

    HIBERNATE = 0
    TURTLE = 1
    STALKER = 2
    APEX = 3

    def __str__(self) -> str:
        return self.name

    @classmethod
    def parse(cls, text: str) -> "Posture":
        """Posture from its name, case-insensitive; raises ``KeyError`` if unknown."""
        return cls[text.strip().upper()]


POSTURES: tuple[Posture, ...] = tuple(Posture)
