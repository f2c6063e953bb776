"""France's régions and départements as an SVG drawing, for the network's national comparison.

:func:`france_outlines` projects the outlines (any CRS) to Lambert-93 (EPSG:2154), keeps
metropolitan France, simplifies them to what a page shows (``tolerance_m``) and writes each layer
as one SVG path of whole numbers, north up; :meth:`FranceOutlines.place` puts a point (EPSG:2154,
metres) in the same drawing. Nothing is read here: the caller reads the files (the shared data
folder's ``census/communes/*-version-simplifiee.geojson``) and keeps the result.

Examples
--------
>>> drawing = france_outlines(regions, departements)  # doctest: +SKIP
>>> drawing.place(224_000, 6_756_000)  # Lorient  # doctest: +SKIP
(105.3, 238.1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qet_geo.crs import WORK_CRS
from qet_geo.errors import ValidationError
from qet_geo.i18n import msg

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

__all__ = ["METROPOLE_BOUNDS", "FranceOutlines", "france_outlines"]

#: Metropolitan France with Corsica in Lambert-93 (left, bottom, right, top), metres: outlines
#: whose centre falls outside are left out of the drawing.
METROPOLE_BOUNDS = (0.0, 6_000_000.0, 1_300_000.0, 7_150_000.0)


@dataclass(frozen=True)
class FranceOutlines:
    """The drawing: ``viewBox`` width and height, one path per layer, and its frame.

    ``regions`` and ``departements`` are SVG path data (numbers and the letters M, L, Z only);
    ``left``, ``top`` (metres, EPSG:2154) and ``scale`` (drawing units per metre) place a point.
    """

    width: float
    height: float
    regions: str
    departements: str
    left: float
    top: float
    scale: float

    def place(self, x: float, y: float) -> tuple[float, float] | None:
        """Where the point (EPSG:2154, metres) falls in the drawing; None outside of it."""
        px = round((x - self.left) * self.scale, 1)
        py = round((self.top - y) * self.scale, 1)
        if not (0 <= px <= self.width and 0 <= py <= self.height):
            return None
        return px, py


def france_outlines(
    regions: Any,
    departements: Any,
    *,
    width: float = 600.0,
    tolerance_m: float = 1500.0,
) -> FranceOutlines:
    """Draw France's régions and départements as two SVG paths, north up, ``width`` units wide.

    Parameters
    ----------
    regions, departements
        GeoDataFrames or GeoSeries of polygons with a CRS (Etalab's simplified outlines are in
        EPSG:4326); either may be empty.
    width
        Width of the drawing, in its units (the height follows France's shape).
    tolerance_m
        Simplification of the outlines, in metres (Douglas-Peucker, topology kept).

    Raises
    ------
    ValidationError
        A layer has no CRS, or neither holds an outline in metropolitan France.
    """
    layers = []
    for name, layer in (("regions", regions), ("departements", departements)):
        if getattr(layer, "crs", None) is None:
            raise ValidationError(
                msg("{name} n'a pas de système de coordonnées : précisez-le.", name=name)
            )
        geoms = layer.geometry if hasattr(layer, "geometry") else layer
        layers.append(_metropolitan(geoms.to_crs(WORK_CRS)))
    kept = [g for layer in layers for g in layer]
    if not kept:
        raise ValidationError(
            msg("Aucun contour de la France métropolitaine dans les régions ni les départements.")
        )
    import shapely

    left, bottom, right, top = shapely.total_bounds(kept)
    scale = width / (right - left)
    paths = [
        _path(
            [g.simplify(tolerance_m, preserve_topology=True) for g in layer],
            left=left,
            top=top,
            scale=scale,
        )
        for layer in layers
    ]
    return FranceOutlines(
        width=round(width, 1),
        height=round((top - bottom) * scale, 1),
        regions=paths[0],
        departements=paths[1],
        left=float(left),
        top=float(top),
        scale=float(scale),
    )


def _metropolitan(geoms: Any) -> list[BaseGeometry]:
    left, bottom, right, top = METROPOLE_BOUNDS
    out = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            continue
        point = geom.representative_point()
        if left <= point.x <= right and bottom <= point.y <= top:
            out.append(geom)
    return out


def _path(geoms: list[BaseGeometry], *, left: float, top: float, scale: float) -> str:
    """One SVG path of the polygons' rings, in whole drawing units, repeated points dropped."""
    from shapely.geometry import MultiPolygon, Polygon

    parts: list[str] = []
    for geom in geoms:
        polygons = (
            [geom]
            if isinstance(geom, Polygon)
            else list(geom.geoms)
            if isinstance(geom, MultiPolygon)
            else []
        )
        for polygon in polygons:
            for ring in (polygon.exterior, *polygon.interiors):
                points: list[str] = []
                for x, y in ring.coords[:-1]:
                    point = f"{round((x - left) * scale)} {round((top - y) * scale)}"
                    if not points or points[-1] != point:
                        points.append(point)
                if len(points) >= 3:
                    parts.append("M" + "L".join(points) + "Z")
    return "".join(parts)
