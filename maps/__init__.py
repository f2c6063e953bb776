"""Folium maps of qet-geo, one builder per map, offline by default.

Every builder follows :meth:`geopandas.GeoDataFrame.explore`: ``make_x_map(data, ..., *, m=None,
lang="fr", offline=True) -> folium.Map``, drawing on ``m`` when given so that layers compose,
and reprojecting to WGS84 only here. Text is French by default (``lang="en"`` for English).

Offline maps (the default) load nothing from any outside host: no tiles (:func:`make_basemap`
draws the extract's own streets, buildings, water and parks instead), and Leaflet and its plugins
are inlined from ``maps/static``. :func:`save_map` writes a self-contained page.

>>> m = make_basemap(layers)  # doctest: +SKIP
>>> make_constraints_map(access, "food_shop_min", m=m)  # doctest: +SKIP
>>> save_map(m, "food.html")  # doctest: +SKIP
"""

from maps._assets import find_links, find_remote_resources
from maps._base import (
    add_synthetic_banner,
    add_title,
    is_offline,
    make_basemap,
    new_map,
    save_map,
)
from maps.compare import make_compare_map
from maps.constraints import (
    make_amenities_map,
    make_constraints_map,
    make_cycleways_map,
    make_isochrones_map,
    make_neighbourhood_map,
    make_transit_map,
)
from maps.national import make_national_map
from maps.profiles import make_profiles_map
from maps.route import ROUTE_COLUMNS, make_route_map

__all__ = [
    "ROUTE_COLUMNS",
    "add_synthetic_banner",
    "add_title",
    "find_links",
    "find_remote_resources",
    "is_offline",
    "make_amenities_map",
    "make_basemap",
    "make_compare_map",
    "make_constraints_map",
    "make_cycleways_map",
    "make_isochrones_map",
    "make_national_map",
    "make_neighbourhood_map",
    "make_profiles_map",
    "make_route_map",
    "make_transit_map",
    "new_map",
    "save_map",
]
