#!/usr/bin/env bash
# Start a throwaway PostgreSQL + PostGIS cluster on 127.0.0.1 and print its URL on stdout.
#
# Needs Debian's postgresql and postgis packages, which scripts/system_packages.sh installs before
# pytest starts (this script never calls apt-get: the pytest-xdist workers each run it and would
# race for the dpkg lock). Runs initdb into a temporary folder, starts the server on a free port
# with pg_ctl, creates the database "qet" with the postgis extension, and prints
#   postgresql://qet@127.0.0.1:<port>/qet
# The data folder is printed on stderr; stop the cluster with
#   pg_ctl -D <folder> stop -m immediate   (as the user that owns it).
# Exits non-zero with a message on stderr when the cluster cannot start.
set -euo pipefail

say() { echo "postgres.sh: $*" >&2; }

pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    return 1
}

has_postgis() {
    local bin version
    bin=$(pg_bin) || return 1
    version=$(basename "$(dirname "$bin")")
    [ -f "/usr/share/postgresql/$version/extension/postgis.control" ]
}

if ! pg_bin >/dev/null || ! has_postgis; then
    say "PostgreSQL/PostGIS is not installed: run 'bash scripts/system_packages.sh' as root"
    say "(apt-get install postgresql postgis), which scripts/test.sh does before pytest."
    exit 1
fi
BIN=$(pg_bin)
has_postgis || { say "PostGIS is not installed for $(basename "$(dirname "$BIN")")."; exit 1; }

DATA=$(mktemp -d "${TMPDIR:-/tmp}/qet-pg.XXXXXX")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# initdb refuses to run as root: run the cluster as the postgres system user then.
run() { "$@"; }
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { say "running as root without a postgres user."; exit 1; }
    chown postgres "$DATA"
    run() { runuser -u postgres -- "$@"; }
fi

run "$BIN/initdb" -D "$DATA/data" -U qet --auth=trust -E UTF8 --locale=C.UTF-8 >"$DATA/initdb.log" 2>&1 \
    || { say "initdb failed, see $DATA/initdb.log"; cat "$DATA/initdb.log" >&2; exit 1; }
run "$BIN/pg_ctl" -D "$DATA/data" -l "$DATA/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $PORT -k $DATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c log_error_verbosity=terse -c log_min_error_statement=panic -c log_statement=none -c log_min_duration_statement=-1 -c log_parameter_max_length=0 -c log_parameter_max_length_on_error=0" \
    start >/dev/null \
    || { say "pg_ctl start failed, see $DATA/server.log"; cat "$DATA/server.log" >&2; exit 1; }
run "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U qet qet
run psql -q -h 127.0.0.1 -p "$PORT" -U qet -d qet -c "CREATE EXTENSION IF NOT EXISTS postgis;" >/dev/null \
    || { say "CREATE EXTENSION postgis failed."; exit 1; }
say "cluster in $DATA (stop: ${BIN}/pg_ctl -D $DATA/data stop -m immediate)"
echo "postgresql://qet@127.0.0.1:$PORT/qet"
