"""What autogenerate compares: the store's tables, not PostGIS's own (spatial_ref_sys)."""

from __future__ import annotations

from typing import Any

POSTGIS_TABLES = frozenset({"spatial_ref_sys", "geography_columns", "geometry_columns"})


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave out PostGIS's tables and the spatial index geoalchemy2 manages."""
    if type_ == "table" and name in POSTGIS_TABLES:
        return False
    return not (type_ == "index" and name is not None and name.startswith("idx_") and reflected)
