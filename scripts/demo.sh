#!/usr/bin/env bash
# The main job on the embedded defaults: every layer of Lorient's town centre, from the real extract
# in ../shared/data, cut to the demo neighbourhood (data/osm/lorient_centre.geojson) plus 1 km, written to out/lorient/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
data=../shared/data
exec .venv/bin/qet layers "$data/osm/lorient_centre.osm.pbf" \
  --territory data/osm/lorient_centre.geojson \
  --out out/lorient "$@"
