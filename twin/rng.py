"""Seeding: one seed, one independent child stream per component name.

Streams are derived from the name, not from creation order, so adding a draw (or a component)
in one place never perturbs another component's stream.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["Streams", "DrawBuffer"]


class Streams:
    """Factory of named, independent :class:`numpy.random.Generator` streams from one seed."""

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
        self.seed = seed

    def generator(self, name: str) -> np.random.Generator:
        """The generator of the component ``name`` (same seed and name: same stream)."""
        digest = hashlib.sha256(name.encode("utf-8")).digest()
        key = tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=key)))

    def buffer(self, name: str, block: int = 4096) -> "DrawBuffer":
        return DrawBuffer(self.generator(name), block)


class DrawBuffer:
    """Scalar draws served from pre-drawn blocks (a numpy scalar draw costs ~1 µs, a list index ~50 ns).

    :meth:`mark` and :meth:`rewind` put the stream back where it was, so a batched publisher that
    re-plans its future sends draws them again exactly (a re-plan caused by some other component's
    fault must not shift this component's draws).
    """

    __slots__ = ("_gen", "_block", "_u", "_iu", "_e", "_ie", "_n", "_in", "_later")

    def __init__(self, gen: np.random.Generator, block: int = 4096) -> None:
        self._gen = gen
        self._block = block
        self._u: list[float] = []
        self._e: list[float] = []
        self._n: list[float] = []
        self._iu = self._ie = self._in = 0
        self._later: dict[int, list[list[float]]] = {}   # blocks already drawn, to serve again after a rewind

    @property
    def generator(self) -> np.random.Generator:
        return self._gen

    def _next_block(self, kind: int) -> list[float]:
        later = self._later.get(kind)
        if later:
            return later.pop()
        if kind == 0:
            return self._gen.random(self._block).tolist()
        if kind == 1:
            return self._gen.standard_exponential(self._block).tolist()
        return self._gen.standard_normal(self._block).tolist()

    def uniform(self) -> float:
        """A draw from U[0, 1)."""
        i = self._iu
        if i == 0:
            self._u = self._next_block(0)
            i = len(self._u)
        i -= 1
        self._iu = i
        return self._u[i]

    def exponential(self) -> float:
        """A draw from Exp(1)."""
        i = self._ie
        if i == 0:
            self._e = self._next_block(1)
            i = len(self._e)
        i -= 1
        self._ie = i
        return self._e[i]

    def normal(self) -> float:
        """A draw from N(0, 1)."""
        i = self._in
        if i == 0:
            self._n = self._next_block(2)
            i = len(self._n)
        i -= 1
        self._in = i
        return self._n[i]

    def exponentials(self, n: int) -> tuple[list[float], list[tuple]]:
        """``n`` draws from Exp(1) and the :meth:`mark` before each: exactly what ``n`` calls of
        :meth:`exponential`, each preceded by :meth:`mark`, would give (a batched publisher's sends)."""
        u, iu, nb, inb = self._u, self._iu, self._n, self._in
        e, i = self._e, self._ie
        if i >= n:                           # all from the current block: draw k is e[i-1-k], marked at i-k
            self._ie = i - n
            return e[i - n:i][::-1], [(u, iu, e, j, nb, inb) for j in range(i, i - n, -1)]
        values: list[float] = []
        marks: list[tuple] = []
        for _ in range(n):
            marks.append((u, iu, e, i, nb, inb))
            if i == 0:
                self._e = e = self._next_block(1)
                i = len(e)
            i -= 1
            values.append(e[i])
        self._ie = i
        return values, marks

    def mark(self) -> tuple:
        """The stream's position now (for :meth:`rewind`)."""
        return (self._u, self._iu, self._e, self._ie, self._n, self._in)

    def rewind(self, mark: tuple) -> None:
        """Serve the draws from ``mark`` on again (the blocks drawn since are kept and served after)."""
        for kind, (blk, i) in enumerate(((mark[0], mark[1]), (mark[2], mark[3]), (mark[4], mark[5]))):
            current = (self._u, self._e, self._n)[kind]
            if blk is not current:           # a block was drawn since the mark: serve it again later
                self._later.setdefault(kind, []).append(current)
            if kind == 0:
                self._u, self._iu = blk, i
            elif kind == 1:
                self._e, self._ie = blk, i
            else:
                self._n, self._in = blk, i
