"""Render the README's pictures from real output: `.venv/bin/python docs/figures.py out/lorient`."""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from qet_geo.taxonomy import CATEGORY_LABELS  # noqa: E402


def main(out_dir: Path) -> None:
    gpkg = out_dir / "layers.gpkg"
    territory = gpd.read_file(gpkg, layer="territory")
    buildings = gpd.read_file(gpkg, layer="buildings")
    streets = gpd.read_file(gpkg, layer="streets")
    cycleways = gpd.read_file(gpkg, layer="cycleways")
    amenities = gpd.read_file(gpkg, layer="amenities")
    water = gpd.read_file(gpkg, layer="water")
    fig, ax = plt.subplots(figsize=(10, 9), dpi=110)
    minx, miny, maxx, maxy = territory.total_bounds
    pad = 250
    ax.set_xlim(minx - pad, maxx + pad)
    ax.set_ylim(miny - pad, maxy + pad)
    water.plot(ax=ax, color="#cfe3f3")
    buildings[buildings["residential"].astype(bool)].plot(ax=ax, color="#e8d8c4", linewidth=0)
    buildings[~buildings["residential"].astype(bool)].plot(ax=ax, color="#b9b9b9", linewidth=0)
    streets.plot(ax=ax, color="#6b6b6b", linewidth=0.6)
    cycleways.plot(ax=ax, color="#1a9850", linewidth=1.6)
    labels = {c: label.render("fr") for c, label in CATEGORY_LABELS.items()}
    cmap = plt.get_cmap("tab20")
    for i, (cat, group) in enumerate(amenities.groupby("category")):
        group.plot(ax=ax, markersize=14, color=cmap(i), label=labels[cat], zorder=5)
    territory.boundary.plot(ax=ax, color="#c0392b", linewidth=2, linestyle="--")
    ax.legend(loc="lower left", fontsize=7, frameon=True)
    ax.set_axis_off()
    ax.set_title("Lorient centre : bâti (habitat en beige), rues, pistes cyclables (vert),\n"
                 "équipements par catégorie ; quartier de démonstration en rouge", fontsize=10)
    ax.annotate("© contributeurs OpenStreetMap (ODbL)", (0.99, 0.01), xycoords="axes fraction",
                ha="right", fontsize=7, color="#555")
    target = Path(__file__).parent / "img" / "lorient_layers.png"
    fig.savefig(target, bbox_inches="tight")
    print(target)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/lorient"))
