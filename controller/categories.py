"""Layer categories as plug-ins.

A category fixes a layer's response profile: which input transforms it may use, how fast
it recovers, whether a zero breaks an invariant, and whether a low value caps the posture.
Adding a layer of an existing category is a config entry; adding a category is one class
decorated with :func:`register_category`::

    @register_category
    class Liquidity(Category):
        name = "liquidity"
        transforms = ("decay",)
        recovery_per_min = 0.02
"""

from __future__ import annotations

from typing import ClassVar

from .posture import Posture

__all__ = ["Category", "register_category", "category", "categories"]


class Category:
    """Base class of a layer category; subclass, set the class attributes, register."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    transforms: ClassVar[tuple[str, ...]] = ()
    recovery_per_min: ClassVar[float] = 0.01
    invariant: ClassVar[bool] = False
    posture_cap: ClassVar[Posture | None] = None
    cap_below: ClassVar[float | None] = None


_REGISTRY: dict[str, type[Category]] = {}


def register_category(cls: type[Category]) -> type[Category]:
    """Register a category class under ``cls.name``; returns the class (a decorator)."""
    if not cls.name or not cls.transforms:
        raise TypeError(f"{cls.__name__} must set a name and at least one transform")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise TypeError(f"category {cls.name!r} is already registered by {_REGISTRY[cls.name].__name__}")
    _REGISTRY[cls.name] = cls
    return cls


def category(name: str) -> type[Category] | None:
    """The registered category called ``name``, or None."""
    return _REGISTRY.get(name)


def categories() -> tuple[str, ...]:
    """Names of every registered category, sorted."""
    return tuple(sorted(_REGISTRY))


@register_category
class Invariant(Category):
    """Tier 0: binary and instant, no deadband; a zero forces r_total = 0 and HIBERNATE."""

    name = "invariant"
    description = "binary, instant: a broken invariant forces r_total = 0 and HIBERNATE in the same step"
    transforms = ("flag", "max_age")
    recovery_per_min = 0.30
    invariant = True


@register_category
class Structural(Category):
    """Tier 1: progressive decay after a deadband."""

    name = "structural"
    description = "progressive decay after a deadband, towards a survival floor"
    transforms = ("decay",)
    recovery_per_min = 0.01


@register_category
class Microstructure(Category):
    """Tier 2: smooth confidence on book age, latency and depth; low confidence caps the posture."""

    name = "microstructure"
    description = "gradient on book age, latency and depth; below a confidence threshold the posture is capped"
    transforms = ("decay",)
    recovery_per_min = 0.05
    posture_cap = Posture.STALKER
    cap_below = 0.90


@register_category
class Environmental(Category):
    """Tier 4: staleness with a high deadband, plus impulse-decay on shocks."""

    name = "environmental"
    description = "staleness with a high deadband, and impulse-decay on shocks"
    transforms = ("decay", "impulse")
    recovery_per_min = 0.01


@register_category
class Capital(Category):
    """Tier 3: a continuous normalised sigmoid of drawdown, exactly 1.0 at zero drawdown."""

    name = "capital"
    description = "continuous normalised sigmoid, no cliffs, f(0) = 1 exactly"
    transforms = ("sigmoid", "decay")
    recovery_per_min = 0.01


@register_category
class Ladder(Category):
    """A flat lookup rung: full value inside a threshold, a fixed fraction outside, no damping.

    Used by the ``static_ladder`` baseline; shows that a new category is one registered class.
    """

    name = "ladder"
    description = "flat lookup table rung: 1.0 or a fixed fraction, instant both ways"
    transforms = ("step", "flag")
    recovery_per_min = 1.0e9
