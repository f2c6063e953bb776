#!/usr/bin/env bash
# The production deployment of qet-geo on this machine: `qet serve` (uvicorn) on 127.0.0.1,
# behind Debian's nginx, which alone faces the clients (see docs/deploy.md).
#
#   scripts/serve.sh [run]   start both in the foreground; Ctrl-C or SIGTERM stops both
#   scripts/serve.sh start   start in the background (returns once nginx answers)
#   scripts/serve.sh stop    stop what `run` or `start` started in this runtime folder
#   scripts/serve.sh status  exit 0 when running and ready, 3 otherwise
#   scripts/serve.sh config  write and check the nginx configuration only (nginx -t)
#
# The nginx configuration is generated from scripts/deploy/nginx.conf.template into the runtime
# folder (QET_RUN_DIR), with its pid file, temporary files and logs: nothing goes to /etc or
# /var. Works as root (nginx's workers then run as QET_NGINX_USER, www-data by default) and as
# a normal user (then QET_LISTEN needs a port above 1023). Needs Debian's nginx package
# (scripts/test.sh installs it; otherwise `apt-get install nginx`); this script never installs.
#
# Settings (environment; defaults in brackets):
#   QET_LISTEN              where nginx listens, PORT or ADDRESS:PORT [127.0.0.1:8080]
#                           (0.0.0.0:80 or [::]:80 to face the network)
#   QET_UVICORN_PORT        port of qet serve on 127.0.0.1 [8000]
#   QET_WORKERS             uvicorn worker processes [number of cores]
#   QET_DATABASE_URL        the service's database (read by qet serve) [sqlite:///qet.db]
#   QET_RUN_DIR             runtime folder [root: /run/qet-geo/serve; others:
#                           $XDG_STATE_HOME/qet-geo/serve, else ~/.local/state/qet-geo/serve]
#   QET_HEADER_TIMEOUT      seconds for a request's whole header [10]
#   QET_BODY_TIMEOUT        seconds between two reads of a request body [15]
#   QET_SEND_TIMEOUT        seconds between two writes of a response [15]
#   QET_KEEPALIVE_TIMEOUT   seconds an idle keep-alive connection is kept [15]
#   QET_PROXY_READ_TIMEOUT  seconds nginx waits for uvicorn's answer [300]
#   QET_CONN_PER_ADDR       open requests per client address [32]
#   QET_RATE, QET_BURST     requests per second per client address, and the burst above it
#                           that is served at once [20, 40]
#   QET_MAX_BODY_BYTES, QET_MAX_TERRITORY_BYTES, QET_MAX_UPLOAD_BYTES, QET_MAX_OSM_BYTES
#                           body limits, the service's own settings (nginx refuses larger bodies
#                           before buffering them) [1000000, 8000000, 5000000, 100000000]
#   QET_NGINX_WORKERS       nginx worker processes [auto]
#   QET_NGINX_CONNECTIONS   connections per nginx worker, capped by the open-file limit [8192]
#   QET_NGINX_USER          user of nginx's workers when started as root [www-data]
#   QET_UVICORN_ACCESS_LOG  1: uvicorn also logs each request (with query strings) [0]
#   QET_NGINX, QET_QET      the nginx and qet executables [nginx on PATH or /usr/sbin/nginx,
#                           .venv/bin/qet of this checkout]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEMPLATE="$ROOT/scripts/deploy/nginx.conf.template"
SELF="$ROOT/scripts/serve.sh"

say() { echo "serve.sh: $(date -u +%FT%TZ) $*" >&2; }
die() { say "$*"; exit 1; }

if [ "$(id -u)" = 0 ]; then
    # nginx's workers (QET_NGINX_USER) must reach the temporary files: not under /root
    RUN=${QET_RUN_DIR:-/run/qet-geo/serve}
else
    RUN=${QET_RUN_DIR:-${XDG_STATE_HOME:-${HOME:-/tmp}/.local/state}/qet-geo/serve}
fi

LISTEN=${QET_LISTEN:-127.0.0.1:8080}
UPORT=${QET_UVICORN_PORT:-8000}
WORKERS=${QET_WORKERS:-$(nproc 2>/dev/null || echo 1)}
HEADER_TIMEOUT=${QET_HEADER_TIMEOUT:-10}
BODY_TIMEOUT=${QET_BODY_TIMEOUT:-15}
SEND_TIMEOUT=${QET_SEND_TIMEOUT:-15}
KEEPALIVE_TIMEOUT=${QET_KEEPALIVE_TIMEOUT:-15}
PROXY_READ_TIMEOUT=${QET_PROXY_READ_TIMEOUT:-300}
CONN_PER_ADDR=${QET_CONN_PER_ADDR:-32}
RATE=${QET_RATE:-20}
BURST=${QET_BURST:-40}
MAX_BODY=${QET_MAX_BODY_BYTES:-1000000}
MAX_TERRITORY=${QET_MAX_TERRITORY_BYTES:-8000000}
MAX_UPLOAD=${QET_MAX_UPLOAD_BYTES:-5000000}
MAX_OSM=${QET_MAX_OSM_BYTES:-100000000}
NGINX_WORKERS=${QET_NGINX_WORKERS:-auto}
NGINX_CONNECTIONS=${QET_NGINX_CONNECTIONS:-8192}
NGINX_USER=${QET_NGINX_USER:-www-data}
UVICORN_ACCESS_LOG=${QET_UVICORN_ACCESS_LOG:-0}
QET_BIN=${QET_QET:-$ROOT/.venv/bin/qet}
NGINX=${QET_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

# ---------------------------------------------------------------------------------------------
# Checks: every value that goes into the nginx configuration is a number, an address or a
# path without characters that nginx would read as syntax.

int() { # NAME VALUE MIN
    [[ $2 =~ ^[0-9]+$ ]] && (( 10#$2 >= $3 )) || die "$1 must be an integer >= $3 (got '$2')."
}

check_settings() {
    int QET_UVICORN_PORT "$UPORT" 1
    (( 10#$UPORT <= 65535 )) || die "QET_UVICORN_PORT must be a port (got '$UPORT')."
    int QET_WORKERS "$WORKERS" 1
    int QET_HEADER_TIMEOUT "$HEADER_TIMEOUT" 1
    int QET_BODY_TIMEOUT "$BODY_TIMEOUT" 1
    int QET_SEND_TIMEOUT "$SEND_TIMEOUT" 1
    int QET_KEEPALIVE_TIMEOUT "$KEEPALIVE_TIMEOUT" 0
    int QET_PROXY_READ_TIMEOUT "$PROXY_READ_TIMEOUT" 1
    int QET_CONN_PER_ADDR "$CONN_PER_ADDR" 1
    int QET_RATE "$RATE" 1
    int QET_BURST "$BURST" 0
    int QET_MAX_BODY_BYTES "$MAX_BODY" 1
    int QET_MAX_TERRITORY_BYTES "$MAX_TERRITORY" 1
    int QET_MAX_UPLOAD_BYTES "$MAX_UPLOAD" 1
    int QET_MAX_OSM_BYTES "$MAX_OSM" 1
    int QET_NGINX_CONNECTIONS "$NGINX_CONNECTIONS" 64
    [[ $NGINX_WORKERS == auto ]] || int QET_NGINX_WORKERS "$NGINX_WORKERS" 1
    [[ $UVICORN_ACCESS_LOG =~ ^[01]$ ]] || die "QET_UVICORN_ACCESS_LOG must be 0 or 1."
    if [[ $LISTEN =~ ^[0-9]+$ ]]; then
        LISTEN="0.0.0.0:$LISTEN"
    fi
    [[ $LISTEN =~ ^(([0-9]{1,3}\.){3}[0-9]{1,3}|\[[0-9a-fA-F:.]+\]):([0-9]+)$ ]] \
        || die "QET_LISTEN must be PORT or ADDRESS:PORT, e.g. 127.0.0.1:8080 (got '$LISTEN')."
    LISTEN_PORT=${BASH_REMATCH[3]}
    (( 10#$LISTEN_PORT >= 1 && 10#$LISTEN_PORT <= 65535 )) || die "bad port in QET_LISTEN."
    LISTEN_HOST=${LISTEN%:*}
    LISTEN_HOST=${LISTEN_HOST#[}
    LISTEN_HOST=${LISTEN_HOST%]}
    # the address nginx is reached on from this machine (readiness check)
    case $LISTEN_HOST in
        0.0.0.0) PROBE_HOST=127.0.0.1 ;;
        ::) PROBE_HOST=::1 ;;
        *) PROBE_HOST=$LISTEN_HOST ;;
    esac
    [[ $RUN == /* && $RUN =~ ^[A-Za-z0-9_./+-]+$ ]] \
        || die "QET_RUN_DIR must be an absolute path of letters, digits and _./+- (got '$RUN')."
    if [ "$(id -u)" = 0 ]; then
        [[ $NGINX_USER =~ ^[a-z_][a-z0-9_-]*$ ]] && id "$NGINX_USER" >/dev/null 2>&1 \
            || die "QET_NGINX_USER '$NGINX_USER' is not a user of this machine."
    fi
    [ -x "$NGINX" ] || die "nginx not found ($NGINX): install Debian's package, apt-get install nginx."
    [ -f "$TEMPLATE" ] || die "missing $TEMPLATE."
}

# ---------------------------------------------------------------------------------------------
# The runtime folder and the nginx configuration.

prepare_run_dir() {
    mkdir -p "$RUN/logs" "$RUN/tmp"
    # nginx's workers (www-data when root) cross the folder to their temporary files; they
    # create nothing else. Logs hold client addresses: their owner only.
    chmod 711 "$RUN" "$RUN/tmp"
    chmod 700 "$RUN/logs"
    if [ "$(id -u)" = 0 ] && ! runuser -u "$NGINX_USER" -- test -x "$RUN/tmp"; then
        die "$NGINX_USER cannot reach $RUN/tmp (request bodies are buffered there): choose a \
QET_RUN_DIR whose parent folders it may cross (e.g. under /run or /srv, not /root)."
    fi
}

# The open-file limit of both servers: raised to the hard limit (each connection is a file).
raise_nofile() {
    local hard
    hard=$(ulimit -Hn)
    [[ $hard == unlimited ]] && hard=1048576
    ulimit -Sn "$hard" 2>/dev/null || true
    NOFILE=$(ulimit -Sn)
    [[ $NOFILE == unlimited ]] && NOFILE=1048576
    # a proxied request holds two connections (client and uvicorn); keep room for logs and files
    local most=$(( NOFILE - 64 ))
    (( most >= 64 )) || die "open-file limit too low ($NOFILE)."
    (( 10#$NGINX_CONNECTIONS <= most )) || NGINX_CONNECTIONS=$most
}

write_config() {
    local user_line="# (not root: nginx's workers run as $(id -un))"
    if [ "$(id -u)" = 0 ]; then
        user_line="user $NGINX_USER;"
    fi
    local territory=$MAX_TERRITORY
    (( 10#$MAX_BODY > 10#$territory )) && territory=$MAX_BODY
    sed -e "s|@USER_LINE@|$user_line|" \
        -e "s|@NGINX_WORKERS@|$NGINX_WORKERS|" \
        -e "s|@NOFILE@|$NOFILE|" \
        -e "s|@WORKER_CONNECTIONS@|$NGINX_CONNECTIONS|" \
        -e "s|@RUN_DIR@|$RUN|g" \
        -e "s|@HEADER_TIMEOUT@|$HEADER_TIMEOUT|" \
        -e "s|@BODY_TIMEOUT@|$BODY_TIMEOUT|" \
        -e "s|@SEND_TIMEOUT@|$SEND_TIMEOUT|" \
        -e "s|@KEEPALIVE_TIMEOUT@|$KEEPALIVE_TIMEOUT|" \
        -e "s|@PROXY_READ_TIMEOUT@|$PROXY_READ_TIMEOUT|" \
        -e "s|@CONN_PER_ADDR@|$CONN_PER_ADDR|" \
        -e "s|@RATE@|$RATE|" \
        -e "s|@BURST@|$BURST|" \
        -e "s|@MAX_BODY@|$MAX_BODY|" \
        -e "s|@MAX_TERRITORY_BYTES@|$territory|" \
        -e "s|@MAX_UPLOAD_BYTES@|$MAX_UPLOAD|" \
        -e "s|@MAX_OSM_BYTES@|$MAX_OSM|" \
        -e "s|@UPSTREAM@|127.0.0.1:$UPORT|" \
        -e "s|@LISTEN@|$LISTEN|" \
        "$TEMPLATE" >"$RUN/nginx.conf.new"
    if grep -q '@[A-Z_]*@' "$RUN/nginx.conf.new"; then
        die "placeholders left in $RUN/nginx.conf.new: $(grep -o '@[A-Z_]*@' "$RUN/nginx.conf.new" | sort -u | tr '\n' ' ')"
    fi
    mv "$RUN/nginx.conf.new" "$RUN/nginx.conf"
    "$NGINX" -t -q -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/logs/error.log" \
        || die "nginx refuses $RUN/nginx.conf (see above and $RUN/logs/error.log)."
}

# ---------------------------------------------------------------------------------------------
# Processes.

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

wait_gone() { # PID SECONDS: 0 once PID has exited, 1 if it still runs after SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        alive "$1" || return 0
        sleep 0.1
    done
    ! alive "$1"
}

# Whether PID is a live serve.sh (not a zombie, whose command line is empty, nor another
# process that reused the number).
is_supervisor() {
    [[ $1 =~ ^[0-9]+$ ]] && alive "$1" \
        && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q 'serve.sh'
}

# The supervisor's pid when one runs in this runtime folder.
running_pid() {
    local pid
    pid=$(cat "$RUN/serve.pid" 2>/dev/null) || return 1
    is_supervisor "$pid" && echo "$pid"
}

port_open() { # HOST PORT
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_port() { # HOST PORT PID SECONDS NAME
    local i
    for ((i = 0; i < $4 * 10; i++)); do
        alive "$3" || die "$5 exited before answering (see $RUN/logs/)."
        port_open "$1" "$2" && return 0
        sleep 0.1
    done
    die "$5 did not answer on $1:$2 within $4 s (see $RUN/logs/)."
}

UV_PID=""
NG_PID=""

stop_children() {
    trap '' TERM INT HUP
    # nginx first (no new requests), gracefully: in-flight requests end, within
    # worker_shutdown_timeout; then uvicorn, gracefully too.
    if alive "$NG_PID"; then
        kill -QUIT "$NG_PID" 2>/dev/null || true
        wait_gone "$NG_PID" 15 || kill -KILL "$NG_PID" 2>/dev/null || true
    fi
    if alive "$UV_PID"; then
        kill -TERM "$UV_PID" 2>/dev/null || true
        wait_gone "$UV_PID" 15 || true
    fi
    if alive "$UV_PID"; then
        pkill -KILL -P "$UV_PID" 2>/dev/null || true
        kill -KILL "$UV_PID" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    rm -f "$RUN/ready" "$RUN/serve.pid" "$RUN/uvicorn.pid" "$RUN/nginx.pid"
}

run_foreground() {
    if pid=$(running_pid); then
        die "already running in $RUN (pid $pid): scripts/serve.sh stop first."
    fi
    [ -x "$QET_BIN" ] || die "$QET_BIN not found: run scripts/setup.sh first."
    prepare_run_dir
    raise_nofile
    write_config
    rm -f "$RUN/ready"
    echo $$ >"$RUN/serve.pid"
    trap 'stop_children; exit 0' TERM INT HUP
    trap 'stop_children' EXIT

    local args=(serve --host 127.0.0.1 --port "$UPORT" --workers "$WORKERS")
    [ "$UVICORN_ACCESS_LOG" = 1 ] || args+=(--no-access-log)
    say "qet serve on 127.0.0.1:$UPORT ($WORKERS workers), logs in $RUN/logs/"
    "$QET_BIN" "${args[@]}" >>"$RUN/logs/uvicorn.log" 2>&1 </dev/null &
    UV_PID=$!
    echo "$UV_PID" >"$RUN/uvicorn.pid"
    wait_port 127.0.0.1 "$UPORT" "$UV_PID" 180 "qet serve"

    "$NGINX" -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/logs/error.log" </dev/null &
    NG_PID=$!
    wait_port "$PROBE_HOST" "$LISTEN_PORT" "$NG_PID" 30 nginx
    touch "$RUN/ready"
    say "ready: http://$LISTEN (nginx pid $NG_PID, uvicorn pid $UV_PID); stop: scripts/serve.sh stop"

    local rc=0
    wait -n "$UV_PID" "$NG_PID" || rc=$?
    say "$(alive "$UV_PID" && echo nginx || echo "qet serve") exited ($rc): stopping."
    exit 1
}

start_background() {
    if pid=$(running_pid); then
        die "already running in $RUN (pid $pid)."
    fi
    mkdir -p "$RUN/logs"
    chmod 700 "$RUN/logs"
    rm -f "$RUN/ready"
    setsid bash "$SELF" run >>"$RUN/logs/serve.log" 2>&1 </dev/null &
    local pid=$! i
    for ((i = 0; i < 2400; i++)); do
        [ -f "$RUN/ready" ] && { say "started (pid $pid): http://$LISTEN"; return 0; }
        alive "$pid" || { tail -n 20 "$RUN/logs/serve.log" >&2; die "did not start."; }
        sleep 0.1
    done
    die "not ready after 240 s (see $RUN/logs/serve.log)."
}

stop() {
    local pid i
    if ! pid=$(running_pid); then
        say "not running in $RUN."
        return 0
    fi
    kill -TERM "$pid"
    for ((i = 0; i < 450; i++)); do
        is_supervisor "$pid" || { say "stopped."; return 0; }
        sleep 0.1
    done
    die "pid $pid still running after 45 s."
}

case ${1:-run} in
    run) check_settings; run_foreground ;;
    start) check_settings; start_background ;;
    stop) stop ;;
    status)
        if pid=$(running_pid) && [ -f "$RUN/ready" ]; then
            echo "running (pid $pid) in $RUN"
        else
            echo "not running ($RUN)"
            exit 3
        fi
        ;;
    config) check_settings; prepare_run_dir; raise_nofile; write_config; echo "$RUN/nginx.conf" ;;
    *) die "usage: scripts/serve.sh [run|start|stop|status|config]" ;;
esac
