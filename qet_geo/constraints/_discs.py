"""What lies within a radius of every home: cycleway length and the streets near it (private).

The cycle-network and slope indicators read, for every home, the line segments within a few
hundred metres. Listing every (home, segment) pair at once costs memory in proportion to their
number (2.5 GB at 200 000 homes); here a numba loop visits, for each home, the segments of the
grid cells its disc overlaps, and keeps nothing but its running sums. The grid's cells are as
wide as the radius, so a disc overlaps at most 3 × 3 of them; a segment is listed in every cell
its bounding box overlaps and read once per home (a stamp per segment).
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class SegmentGrid:
    """Line segments ``(a, b)`` bucketed in square cells of side ``cell`` (private)."""

    def __init__(self, a: FloatArray, b: FloatArray, cell: float) -> None:
        self.a, self.b, self.cell = a, b, float(cell)
        lo = np.minimum(a, b)
        hi = np.maximum(a, b)
        self.origin = lo.min(axis=0) if len(a) else np.zeros(2)
        first = np.floor((lo - self.origin) / self.cell).astype(np.int64)
        last = np.floor((hi - self.origin) / self.cell).astype(np.int64)
        self.shape = (last.max(axis=0) + 1) if len(a) else np.ones(2, dtype=np.int64)
        span = last - first + 1
        per = span[:, 0] * span[:, 1]
        seg = np.repeat(np.arange(len(a), dtype=np.int64), per)
        # the k-th cell of a segment's box, row by row
        k = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
        cx = np.repeat(first[:, 0], per) + k % np.repeat(span[:, 0], per)
        cy = np.repeat(first[:, 1], per) + k // np.repeat(span[:, 0], per)
        key = cy * self.shape[0] + cx
        order = np.argsort(key, kind="stable")
        self.seg = seg[order]
        self.ptr = np.zeros(int(self.shape[0] * self.shape[1]) + 1, dtype=np.int64)
        np.cumsum(np.bincount(key, minlength=self.ptr.size - 1), out=self.ptr[1:])

    def args(
        self,
    ) -> tuple[
        FloatArray,
        FloatArray,
        FloatArray,
        FloatArray,
        IntArray,
        IntArray,
        float,
        float,
        float,
        int,
        int,
    ]:
        """The kernels' grid arguments: segment ends, cell offsets and members, the grid."""
        return (
            np.ascontiguousarray(self.a[:, 0]),
            np.ascontiguousarray(self.a[:, 1]),
            np.ascontiguousarray(self.b[:, 0]),
            np.ascontiguousarray(self.b[:, 1]),
            self.ptr,
            self.seg,
            float(self.origin[0]),
            float(self.origin[1]),
            self.cell,
            int(self.shape[0]),
            int(self.shape[1]),
        )


@numba.njit(cache=True, nogil=True)
def _cells_around(
    px: float, py: float, radius: float, x0: float, y0: float, cell: float, nx: int, ny: int
) -> tuple[int, int, int, int]:
    """First and last column and row of the grid's cells the disc around ``(px, py)`` meets."""
    i0 = max(int(np.floor((px - radius - x0) / cell)), 0)
    i1 = min(int(np.floor((px + radius - x0) / cell)), nx - 1)
    j0 = max(int(np.floor((py - radius - y0) / cell)), 0)
    j1 = min(int(np.floor((py + radius - y0) / cell)), ny - 1)
    return i0, i1, j0, j1


@numba.njit(cache=True, nogil=True)
def _length_inside(
    hx: FloatArray,
    hy: FloatArray,
    ax: FloatArray,
    ay: FloatArray,
    bx: FloatArray,
    by: FloatArray,
    ptr: IntArray,
    seg: IntArray,
    x0: float,
    y0: float,
    cell: float,
    nx: int,
    ny: int,
    radius: float,
) -> FloatArray:
    """Length of the segments inside each home's disc, exactly (roots of the circle along it)."""
    out = np.zeros(hx.size)
    seen = np.full(ax.size, -1, dtype=np.int64)
    r2 = radius * radius
    for h in range(hx.size):
        px = hx[h]
        py = hy[h]
        i0, i1, j0, j1 = _cells_around(px, py, radius, x0, y0, cell, nx, ny)
        total = 0.0
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                c = j * nx + i
                for k in range(ptr[c], ptr[c + 1]):
                    s = seg[k]
                    if seen[s] == h:
                        continue
                    seen[s] = h
                    dx = bx[s] - ax[s]
                    dy = by[s] - ay[s]
                    fx = ax[s] - px
                    fy = ay[s] - py
                    qa = dx * dx + dy * dy
                    qb = 2.0 * (fx * dx + fy * dy)
                    qc = fx * fx + fy * fy - r2
                    disc = qb * qb - 4.0 * qa * qc
                    if qa > 0 and disc > 0:
                        root = np.sqrt(disc)
                        lo = min(max((-qb - root) / (2.0 * qa), 0.0), 1.0)
                        hi = min(max((-qb + root) / (2.0 * qa), 0.0), 1.0)
                        total += (hi - lo) * np.sqrt(qa)
        out[h] = total
    return out


@numba.njit(cache=True, nogil=True)
def _lines_within(
    hx: FloatArray,
    hy: FloatArray,
    ax: FloatArray,
    ay: FloatArray,
    bx: FloatArray,
    by: FloatArray,
    ptr: IntArray,
    seg: IntArray,
    x0: float,
    y0: float,
    cell: float,
    nx: int,
    ny: int,
    radius: float,
    line_of: IntArray,
    value: FloatArray,
    weight: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Per home, sums of ``value * weight`` and of ``weight`` over the lines within the radius.

    A line (segments sharing ``line_of``) is within the radius when one of its segments is:
    the distance from the home to the line is at most ``radius``.
    """
    num = np.zeros(hx.size)
    den = np.zeros(hx.size)
    n_lines = value.size
    seen = np.full(n_lines, -1, dtype=np.int64)
    r2 = radius * radius
    for h in range(hx.size):
        px = hx[h]
        py = hy[h]
        i0, i1, j0, j1 = _cells_around(px, py, radius, x0, y0, cell, nx, ny)
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                c = j * nx + i
                for k in range(ptr[c], ptr[c + 1]):
                    s = seg[k]
                    line = line_of[s]
                    if seen[line] == h:
                        continue
                    dx = bx[s] - ax[s]
                    dy = by[s] - ay[s]
                    qa = dx * dx + dy * dy
                    t = 0.0
                    if qa > 0:
                        t = ((px - ax[s]) * dx + (py - ay[s]) * dy) / qa
                        t = min(max(t, 0.0), 1.0)
                    ex = ax[s] + t * dx - px
                    ey = ay[s] + t * dy - py
                    if ex * ex + ey * ey <= r2:
                        seen[line] = h
                        num[h] += value[line] * weight[line]
                        den[h] += weight[line]
    return num, den


def segments(lines: npt.NDArray[np.object_]) -> tuple[FloatArray, FloatArray, IntArray]:
    """Every segment of line geometries: starts, ends and the line each belongs to."""
    import shapely

    coords, owner = shapely.get_coordinates(lines, return_index=True)
    if not coords.size:
        return np.empty((0, 2)), np.empty((0, 2)), np.empty(0, dtype=np.int64)
    same = owner[1:] == owner[:-1]
    start = np.flatnonzero(same)
    return coords[start], coords[start + 1], owner[start].astype(np.int64)


def length_inside(xy: FloatArray, a: FloatArray, b: FloatArray, radius: float) -> FloatArray:
    """Length of the segments ``a -> b`` inside the disc of ``radius`` around each point ``xy``."""
    out = np.zeros(len(xy))
    at = np.flatnonzero(np.isfinite(xy).all(axis=1))  # a home without a place reads nothing
    if not len(a) or not at.size:
        return out
    grid = SegmentGrid(a, b, radius)
    out[at] = _length_inside(xy[at, 0].copy(), xy[at, 1].copy(), *grid.args(), radius)
    return out


def lines_within(
    xy: FloatArray,
    a: FloatArray,
    b: FloatArray,
    line_of: IntArray,
    radius: float,
    value: FloatArray,
    weight: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Sums of ``value * weight`` and ``weight`` over the lines within ``radius`` of each point."""
    num, den = np.zeros(len(xy)), np.zeros(len(xy))
    at = np.flatnonzero(np.isfinite(xy).all(axis=1))  # a home without a place reads nothing
    if not len(a) or not at.size:
        return num, den
    grid = SegmentGrid(a, b, radius)
    num[at], den[at] = _lines_within(
        xy[at, 0].copy(),
        xy[at, 1].copy(),
        *grid.args(),
        radius,
        line_of,
        np.ascontiguousarray(value, dtype=np.float64),
        np.ascontiguousarray(weight, dtype=np.float64),
    )
    return num, den
