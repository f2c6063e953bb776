#!/usr/bin/env bash
# The main job on the embedded defaults: the whole diagnostic of Lorient's town centre (real OSM
# extract from ../shared/data, labelled-SYNTHETIC survey answers on its real buildings), written
# as an offline report folder: out/demo/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/qet demo --out out/demo "$@"
