#!/usr/bin/env bash
# Set up and run the whole test suite: lint (ruff), types (mypy), then pytest on the real data in
# ../shared/data. Fails if any step fails, and if pytest ran no test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# Every Debian package the tests need (PostgreSQL + PostGIS, chromium, Node.js, nginx), installed
# here, after one apt-get update, before pytest starts: never from a test or a fixture.
bash scripts/system_packages.sh
# Node packages of the NosGestesClimat re-evaluation test (pinned in scripts/ngc/package-lock.json)
if [[ ! -d scripts/ngc/node_modules/publicodes ]]; then
  (cd scripts/ngc && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
# axe-core for the accessibility checks of the browser tests (pinned in scripts/web/package-lock.json;
# installed again when the pin moves)
axe_pinned=$(node -p "require('./scripts/web/package-lock.json').packages['node_modules/axe-core'].version")
axe_installed=$(node -p "try { require('./scripts/web/node_modules/axe-core/package.json').version } catch (e) { '' }")
if [[ $axe_pinned != "$axe_installed" || ! -f scripts/web/node_modules/axe-core/axe.min.js ]]; then
  (cd scripts/web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
export PYTHONDONTWRITEBYTECODE=1
echo "== ruff"
.venv/bin/ruff check qet_geo api maps tests bench
.venv/bin/ruff format --check qet_geo api maps tests bench
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
set +e
.venv/bin/python -m pytest -n 2 -q "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
  echo "pytest collected no test: that is a failure here" >&2
  exit 1
fi
exit $status
