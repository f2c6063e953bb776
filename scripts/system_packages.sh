#!/usr/bin/env bash
# Install the Debian packages the test suite needs, once, before pytest starts:
#   PostgreSQL + PostGIS (the second backend of every API test), chromium (browser tests of the maps,
#   the report and the pages; libatomic1 for Playwright's driver), Node.js + npm (the
#   NosGestesClimat re-evaluation and axe-core), nginx (the production deployment tested against
#   slow clients).
# Only what is missing is installed, after ONE `apt-get update`. No test or fixture ever calls
# apt-get: pytest-xdist workers would race for the dpkg lock (tests/test_system_packages.py checks it).
# Usage: scripts/system_packages.sh         (needs root when something is missing)
set -euo pipefail

say() { printf '\033[1m[packages]\033[0m %s\n' "$*" >&2; }

missing=()
pg_bin=""
for dir in /usr/lib/postgresql/*/bin; do
  [[ -x $dir/initdb ]] && pg_bin=$dir && break
done
# postgresql-postgis: PostGIS for Debian's default PostgreSQL (the "postgis" package only
# recommends it, and recommendations are not installed here)
if [[ -z $pg_bin ]]; then
  missing+=(postgresql postgresql-postgis)
else
  version=$(basename "$(dirname "$pg_bin")")
  [[ -f /usr/share/postgresql/$version/extension/postgis.control ]] ||
    missing+=("postgresql-$version-postgis-3")
fi
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
  missing+=(chromium fonts-dejavu-core)
# Playwright for Python drives that chromium (executable_path, never a browser download) from its
# own node binary, which links libatomic (Debian's chromium needs nothing more)
compgen -G "/usr/lib/*/libatomic.so.1" >/dev/null || compgen -G "/lib/*/libatomic.so.1" >/dev/null ||
  missing+=(libatomic1)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# npm ci reaches the registry over HTTPS (nodejs only recommends the certificates)
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)
[[ -x /usr/sbin/nginx ]] || command -v nginx >/dev/null 2>&1 || missing+=(nginx)

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  say "missing Debian packages: ${missing[*]}. Install them as root:"
  say "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  exit 1
fi
say "installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a default cluster and nginx on install: the tests start their own, on free ports.
if command -v service >/dev/null 2>&1; then
  service nginx stop >/dev/null 2>&1 || true
  service postgresql stop >/dev/null 2>&1 || true
fi
