"""The production deployment (scripts/serve.sh: nginx in front of ``qet serve``) under slow clients.

Each test starts the deployment as documented in docs/deploy.md, on free ports of 127.0.0.1 and a
throwaway runtime folder, on each database backend, with short timeouts and small per-address
limits so that the attacks are cheap. The attackers connect from other loopback addresses
(127.0.0.2, 127.0.0.3...: Linux routes the whole of 127.0.0.0/8 to the loopback interface) so
that the per-address limits, which are the point, apply to them and not to the normal client.

No assertion depends on speed: the normal client has 30 s per request, and a connection that
nginx should close within a few seconds is only required to be closed well before the attacker
would have dropped it itself (the attacks are bounded in count and in time and stop by
themselves).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import (  # noqa: F401  (postgres_url is a fixture used by name)
    BACKENDS,
    free_port,
    fresh_postgres_database,
    postgres_url,
)

ROOT = Path(__file__).resolve().parents[1]
SERVE = ROOT / "scripts" / "serve.sh"

#: Settings of the test deployment (short, so that the attacks end quickly).
HEADER_TIMEOUT_S = 4
BODY_TIMEOUT_S = 6
CONN_PER_ADDR = 8
RATE_PER_S = 5
BURST = 10
MAX_UPLOAD_BYTES = 3_000_000
MAX_BODY_BYTES = 1_000_000

#: Source addresses: the normal client and one per attack.
NORMAL = "127.0.0.1"
LORIS = "127.0.0.2"
SLOW_BODY = "127.0.0.3"
FLOOD = "127.0.0.4"
SPOOF = "127.0.0.5"

#: An attacker drops its own connection after this long: a connection still open then was not
#: closed by the server.
HOLD_CAP_S = 60.0
#: nginx must have closed each attack connection within this time of the moment it became
#: closable (header timeout 4 s, body timeout 6 s: a wide margin for a loaded machine).
CLOSE_WITHIN_S = 30.0


@dataclass
class Deployment:
    """A running scripts/serve.sh: nginx on ``port``, uvicorn on ``uvicorn_port``."""

    port: int
    uvicorn_port: int
    run_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def uvicorn_log(self) -> str:
        return (self.run_dir / "logs" / "uvicorn.log").read_text(errors="replace")

    def access_log(self) -> str:
        return (self.run_dir / "logs" / "access.log").read_text(errors="replace")

    def access_log_with(self, *needles: str, timeout_s: float = 30.0) -> str:
        """The access log once it holds every needle (or after ``timeout_s``).

        nginx writes a request's line when it finalises the request, after the client may
        already have read the answer: read at once, the line may not be there yet.
        """
        deadline = time.monotonic() + timeout_s
        text = self.access_log()
        while not all(n in text for n in needles) and time.monotonic() < deadline:
            time.sleep(0.05)
            text = self.access_log()
        return text


def _raise_nofile(n: int) -> None:
    """Raise this process's open-file limit to ``n`` (within the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _runtime_base() -> Path:
    """A runtime folder's parent that nginx's workers (www-data when root) may cross."""
    base = Path(tempfile.mkdtemp(prefix="qet-deploy-"))
    base.chmod(0o711)
    return base


def start_deployment(database_url: str, **extra: str) -> Deployment:
    """Run ``scripts/serve.sh run`` on free ports and wait until it says it is ready."""
    base = _runtime_base()
    run_dir = base / "run"
    port, uvicorn_port = free_port(), free_port()
    env = {
        **os.environ,
        "QET_RUN_DIR": str(run_dir),
        "QET_LISTEN": f"127.0.0.1:{port}",
        "QET_UVICORN_PORT": str(uvicorn_port),
        "QET_WORKERS": "1",
        "QET_NGINX_WORKERS": "2",
        "QET_DATABASE_URL": database_url,
        "QET_HEADER_TIMEOUT": str(HEADER_TIMEOUT_S),
        "QET_BODY_TIMEOUT": str(BODY_TIMEOUT_S),
        "QET_CONN_PER_ADDR": str(CONN_PER_ADDR),
        "QET_RATE": str(RATE_PER_S),
        "QET_BURST": str(BURST),
        "QET_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        "QET_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "QET_UVICORN_ACCESS_LOG": "1",
        **extra,
    }
    proc = subprocess.Popen(
        ["bash", str(SERVE), "run"],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(base / "serve.err").open("wb"),
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while not (run_dir / "ready").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            err = (base / "serve.err").read_text(errors="replace")
            stop_deployment(Deployment(port, uvicorn_port, run_dir, env, proc))
            pytest.fail(f"scripts/serve.sh did not become ready:\n{err}")
        time.sleep(0.1)
    return Deployment(port, uvicorn_port, run_dir, env, proc)


def stop_deployment(dep: Deployment) -> int | None:
    """Stop it with ``scripts/serve.sh stop``; return the supervisor's exit code."""
    done = subprocess.run(
        ["bash", str(SERVE), "stop"], env=dep.env, capture_output=True, timeout=90, check=False
    )
    print(time.strftime("%X"), "stop:", done.stderr.decode(errors="replace"))
    try:
        return dep.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(dep.proc.pid, signal.SIGKILL)  # the session this test started
        dep.proc.wait(timeout=10)
        return None
    finally:
        shutil.rmtree(dep.run_dir.parent, ignore_errors=True)


def _database(backend: str, request: pytest.FixtureRequest, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'deploy.db'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="module", params=BACKENDS)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    _raise_nofile(8192)
    url = _database(request.param, request, tmp_path_factory.mktemp(f"deploy-{request.param}"))
    dep = start_deployment(url)
    yield dep
    stop_deployment(dep)


# ---------------------------------------------------------------------------------------------
# Observers


def _listening_sockets(port: int) -> set[str]:
    """Inodes of the sockets listening on 127.0.0.1:``port`` (empty when none)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            local, state = parts[1], parts[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                found.add(parts[9])
    return found


def established_to(port: int) -> int:
    """Established TCP connections whose server side is ``port`` on this machine."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "01" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                n += 1
    return n


@dataclass
class NormalClient:
    """A well-behaved client (127.0.0.1): a fresh connection and a GET every half second."""

    statuses: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def run(self, url: str, stop: asyncio.Event) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=NORMAL)
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(transport=transport, limits=limits, timeout=30) as client:
            while not stop.is_set():
                try:
                    r = await client.get(f"{url}/neighbourhoods")
                    self.statuses.append(r.status_code)
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)


@dataclass
class AttackStats:
    """What the attacker saw: how long each connection lived, and who closed it."""

    lifetimes: list[float] = field(default_factory=list)  # closed by the server
    held_to_cap: int = 0  # still open when the attacker gave up
    connect_failures: int = 0
    responses: list[bytes] = field(default_factory=list)  # first bytes of any answer
    current: int = 0
    peak: int = 0


#: Linux's IP_BIND_ADDRESS_NO_PORT (not named by Python 3.11's socket module).
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


async def _connect(port: int, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to 127.0.0.1:``port`` from ``source``.

    The source port is chosen by ``connect``, not by ``bind`` (IP_BIND_ADDRESS_NO_PORT): a
    ``bind`` to port 0 searches the ports of ``source`` that are free for *any* destination, and
    with thousands of them in TIME_WAIT from earlier attacks it blocks the event loop for
    seconds per thousand connections.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), 30)
        return await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise


async def _closed_by_server(reader: asyncio.StreamReader, wait: float) -> bytes | None:
    """Wait up to ``wait`` s for the server: its answer's first bytes (b"" for a bare close) when
    it closed or answered, None when it stayed silent."""
    try:
        data = await asyncio.wait_for(reader.read(4096), wait)
    except TimeoutError:
        return None
    except ConnectionError:
        return b""
    return data


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 5)


async def loris_connection(port: int, stats: AttackStats) -> None:
    """One slow-loris connection: a request line, then one header line per second, forever
    (until the server closes it, or :data:`HOLD_CAP_S`)."""
    try:
        reader, writer = await _connect(port, LORIS)
    except (OSError, TimeoutError):
        stats.connect_failures += 1
        return
    start = time.monotonic()
    stats.current += 1
    stats.peak = max(stats.peak, stats.current)
    try:
        writer.write(b"GET /slowloris-marker HTTP/1.1\r\nHost: qet\r\n")
        while time.monotonic() - start < HOLD_CAP_S:
            answer = await _closed_by_server(reader, 1.0)
            if answer is not None:
                stats.lifetimes.append(time.monotonic() - start)
                if answer:
                    stats.responses.append(answer[:64])
                return
            try:
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()
            except ConnectionError:
                stats.lifetimes.append(time.monotonic() - start)
                return
        stats.held_to_cap += 1
    finally:
        stats.current -= 1
        await _close(writer)


async def loris_attack(port: int, n: int, window_s: float, stats: AttackStats) -> None:
    """Keep ``n`` slow-loris connections open for ``window_s`` seconds (each one closed by the
    server is replaced, as attack tools do), then let the last ones end."""
    deadline = time.monotonic() + window_s

    async def slot() -> None:
        while time.monotonic() < deadline:
            await loris_connection(port, stats)

    await asyncio.gather(*(slot() for _ in range(n)))


# ---------------------------------------------------------------------------------------------
# The script itself


@pytest.mark.parametrize("backend", BACKENDS)
def test_serve_script_starts_answers_and_stops(backend, request, tmp_path):
    url = _database(backend, request, tmp_path)
    dep = start_deployment(url)
    try:
        r = httpx.get(f"{dep.url}/neighbourhoods", timeout=30)
        assert r.status_code == 200 and r.json() == []
        assert r.headers["server"] == "nginx"  # no version
        conf = (dep.run_dir / "nginx.conf").read_text()
        assert "client_header_timeout 4s;" in conf and "proxy_request_buffering on;" in conf
        assert f"server 127.0.0.1:{dep.uvicorn_port};" in conf
        # uvicorn listens on the loopback only; nginx on the address it was given
        assert _listening_sockets(dep.uvicorn_port) and _listening_sockets(dep.port)
        status = subprocess.run(
            ["bash", str(SERVE), "status"], env=dep.env, capture_output=True, text=True
        )
        assert status.returncode == 0 and "running" in status.stdout
        # a second deployment in the same runtime folder is refused
        again = subprocess.run(
            ["bash", str(SERVE), "run"], env=dep.env, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        code = stop_deployment(dep)
    assert code == 0
    assert not _listening_sockets(dep.port) and not _listening_sockets(dep.uvicorn_port)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QET_LISTEN", "127.0.0.1:8080; include /etc/passwd"),
        ("QET_HEADER_TIMEOUT", "10s; evil"),
        ("QET_CONN_PER_ADDR", "0"),
        ("QET_RUN_DIR", "relative/run"),
    ],
)
def test_serve_script_refuses_bad_settings(name, value, tmp_path):
    env = {**os.environ, "QET_RUN_DIR": str(tmp_path / "run"), name: value}
    done = subprocess.run(
        ["bash", str(SERVE), "config"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert name in done.stderr
    assert not (tmp_path / "run" / "nginx.conf").exists()


# ---------------------------------------------------------------------------------------------
# Slow clients


async def _with_normal_client(url: str, attack: asyncio.Future[None]) -> NormalClient:
    stop = asyncio.Event()
    client = NormalClient()
    task = asyncio.ensure_future(client.run(url, stop))
    try:
        await attack
    finally:
        stop.set()
        await task
    return client


def test_slow_loris_headers_are_cut_by_nginx_and_never_reach_uvicorn(deployment):
    """1 500 connections trickle header lines (one per second, so that a timeout re-armed by each
    read would never fire) for 15 s, each closed one replaced at once."""
    n, window = 1500, 15.0
    stats = AttackStats()
    uvicorn_conns: list[int] = []

    async def watch(stop: asyncio.Event) -> None:
        while not stop.is_set():
            uvicorn_conns.append(established_to(deployment.uvicorn_port))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    async def main() -> NormalClient:
        stop = asyncio.Event()
        watcher = asyncio.ensure_future(watch(stop))
        try:
            attack = asyncio.ensure_future(loris_attack(deployment.port, n, window, stats))
            return await _with_normal_client(deployment.url, attack)
        finally:
            stop.set()
            await watcher

    client = asyncio.run(main())

    # the attack was real: most of its connections were open at once
    assert stats.peak >= n // 2, stats
    # (a) the normal client was served throughout
    assert not client.errors, client.errors[:3]
    assert len(client.statuses) >= 5 and set(client.statuses) == {200}
    # (b) nginx closed every trickling connection (none lasted until the attacker gave up),
    # well within the header timeout and a wide margin
    assert stats.held_to_cap == 0
    assert len(stats.lifetimes) >= n
    assert max(stats.lifetimes) < HEADER_TIMEOUT_S + CLOSE_WITHIN_S
    assert not any(r.startswith(b"HTTP/1.1 2") for r in stats.responses)
    # (c) uvicorn never saw them: no such request in its log, and only nginx's few upstream
    # connections (its keep-alive pool, 16 per worker) while over 750 clients were connected
    log = deployment.uvicorn_log()
    assert "slowloris-marker" not in log
    assert log.count('"GET /neighbourhoods HTTP/1.1" 200') >= len(client.statuses)
    assert uvicorn_conns and max(uvicorn_conns) <= 2 * 16 + 2


async def slow_body_connection(
    port: int, trickle_s: float, stats: AttackStats, stalled: list[float]
) -> None:
    """A request whose header is complete and whose body (100 kB announced) comes 10 bytes a
    second for ``trickle_s`` seconds, then stops: the connection is left open.

    A connection with no answer 2 s after its header is *held* (counted in ``stats.current``);
    a refused one is answered at once."""
    try:
        reader, writer = await _connect(port, SLOW_BODY)
    except (OSError, TimeoutError):
        stats.connect_failures += 1
        return
    start = time.monotonic()
    held = False
    try:
        writer.write(
            b"POST /slowbody-marker HTTP/1.1\r\nHost: qet\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n[1,2,3,4,"
        )
        answer = await _closed_by_server(reader, 2.0)
        if answer is not None:  # refused at once (limit per address)
            stats.responses.append(answer[:64])
            return
        held = True
        stats.current += 1
        stats.peak = max(stats.peak, stats.current)
        while time.monotonic() - start < trickle_s:
            writer.write(b"[1,2,3,4,")
            await writer.drain()
            answer = await _closed_by_server(reader, 1.0)
            if answer is not None:  # closed while the body was still coming: not expected
                stats.responses.append(answer[:64])
                return
        stall = time.monotonic()
        answer = await _closed_by_server(reader, HOLD_CAP_S)
        if answer is None:
            stats.held_to_cap += 1
        else:
            stalled.append(time.monotonic() - stall)
    except ConnectionError:
        stats.responses.append(b"")
    finally:
        if held:
            stats.current -= 1
        await _close(writer)


def test_slow_request_bodies_are_buffered_limited_and_cut(deployment):
    """20 requests from one address, one every 0.25 s (within the rate limit), send their body
    10 bytes a second for 10 s, then stall."""
    n, trickle = 20, 10.0
    stats = AttackStats()
    stalled: list[float] = []

    async def attack() -> None:
        tasks = []
        for _ in range(n):
            tasks.append(
                asyncio.ensure_future(
                    slow_body_connection(deployment.port, trickle, stats, stalled)
                )
            )
            await asyncio.sleep(0.25)
        await asyncio.gather(*tasks)

    async def main() -> NormalClient:
        return await _with_normal_client(deployment.url, asyncio.ensure_future(attack()))

    client = asyncio.run(main())

    assert stats.connect_failures == 0
    # (c) uvicorn never saw a byte of them: nginx buffers whole bodies before passing a request on
    assert "slowbody-marker" not in deployment.uvicorn_log()
    # one address holds at most CONN_PER_ADDR requests open; the others are refused at once, with
    # the service's JSON error
    assert 0 < stats.peak <= CONN_PER_ADDR, stats
    refused = [r for r in stats.responses if r.startswith(b"HTTP/1.1 429")]
    assert refused and len(refused) + len(stalled) == n, stats.responses
    # (b) a stalled body is dropped after the body timeout, not kept
    assert stats.held_to_cap == 0
    assert max(stalled) < BODY_TIMEOUT_S + CLOSE_WITHIN_S
    # (a) the normal client (another address) was served throughout
    assert not client.errors, client.errors[:3]
    assert len(client.statuses) >= 5 and set(client.statuses) == {200}


def test_flood_from_one_address_is_rate_limited(deployment):
    """60 requests at once from one address: the burst passes, the rest get 429 from nginx and
    never reach uvicorn."""

    async def main() -> list[httpx.Response]:
        transport = httpx.AsyncHTTPTransport(local_address=FLOOD)
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        async with httpx.AsyncClient(transport=transport, limits=limits, timeout=30) as c:
            return await asyncio.gather(
                *(c.get(f"{deployment.url}/neighbourhoods") for _ in range(60))
            )

    start = time.monotonic()
    answers = asyncio.run(main())
    elapsed = time.monotonic() - start
    ok = [r for r in answers if r.status_code == 200]
    limited = [r for r in answers if r.status_code == 429]
    assert len(ok) + len(limited) == 60
    assert len(ok) <= BURST + 1 + RATE_PER_S * (elapsed + 1)
    assert limited
    body = limited[0].json()
    assert body["code"] == "TooManyRequests" and "réessayez" in body["detail"]
    assert limited[0].headers["retry-after"] == "1"
    # uvicorn saw exactly the requests nginx let through, under the client's own address
    served = re.findall(
        rf"{re.escape(FLOOD)}:\d+ - \"GET /neighbourhoods", deployment.uvicorn_log()
    )
    assert len(served) == len(ok)


def test_forwarded_for_is_the_client_address_and_logs_hold_no_query(deployment):
    """A forged X-Forwarded-For is replaced by the real address; the access log has the path
    without its query string and no header."""
    transport = httpx.HTTPTransport(local_address=SPOOF)
    with httpx.Client(transport=transport, timeout=30) as c:
        r = c.get(
            f"{deployment.url}/neighbourhoods",
            params={"token": "SECRET-IN-QUERY"},
            headers={"X-Forwarded-For": "6.6.6.6", "Authorization": "Bearer SECRET-IN-HEADER"},
        )
    assert r.status_code == 401  # unknown token: it did reach the service
    conf = (deployment.run_dir / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    uvicorn_log = deployment.uvicorn_log()
    assert f'{SPOOF}:0 - "GET /neighbourhoods' in uvicorn_log
    assert "6.6.6.6" not in uvicorn_log
    access = deployment.access_log_with(f"{SPOOF} [", '"GET /neighbourhoods HTTP/1.1" 401')
    assert f"{SPOOF} [" in access and '"GET /neighbourhoods HTTP/1.1" 401' in access
    assert "SECRET" not in access and "6.6.6.6" not in access
    errors = (deployment.run_dir / "logs" / "error.log").read_text()
    assert "SECRET" not in errors


def test_bodies_over_the_service_limits_are_refused_by_nginx(deployment):
    """JSON routes: QET_MAX_BODY_BYTES; survey uploads: QET_MAX_UPLOAD_BYTES (buffered to the
    runtime folder, which nginx's workers must reach when started as root)."""
    big_json = b"[" + b"1," * (MAX_BODY_BYTES // 2) + b"1]"
    r = httpx.post(
        f"{deployment.url}/neighbourhoods/1/diagnostics",
        content=big_json,
        headers={"Content-Type": "application/json", "Accept-Language": "en"},
        timeout=30,
    )
    assert r.status_code == 413
    assert r.json()["code"] == "PayloadTooLargeError" and "larger" in r.json()["detail"]
    # an upload between the JSON limit and its own passes nginx (the service answers: no token)
    upload = b"x" * (MAX_UPLOAD_BYTES - 1000)
    r = httpx.post(f"{deployment.url}/diagnostics/1/uploads", content=upload, timeout=60)
    assert r.status_code in (401, 404) and r.headers["content-type"] == "application/json"
    r = httpx.post(
        f"{deployment.url}/diagnostics/1/uploads", content=upload + b"x" * 2000, timeout=60
    )
    assert r.status_code == 413 and r.headers["server"] == "nginx"
    assert "dépasse" in r.json()["detail"]
    log = deployment.uvicorn_log()
    assert log.count('"POST /diagnostics/1/uploads HTTP/1.1"') == 1
    assert '"POST /neighbourhoods/1/diagnostics' not in log


# ---------------------------------------------------------------------------------------------
# PostgreSQL of the documented deployment

PG_SNIPPET = ROOT / "scripts" / "deploy" / "postgresql-qet.conf"
#: PostgreSQL 15's defaults of the settings the snippet changes.
PG_DEFAULTS = {
    "log_min_error_statement": "error",
    "log_error_verbosity": "default",
    "log_parameter_max_length": "-1",
    "log_parameter_max_length_on_error": "0",
    "log_statement": "'none'",
    "log_min_duration_statement": "-1",
    "log_min_duration_sample": "-1",
    "log_transaction_sample_rate": "0",
}


def _snippet_settings() -> dict[str, str]:
    settings = {}
    for line in PG_SNIPPET.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, value = (part.strip() for part in line.split("=", 1))
            assert re.fullmatch(r"[a-z_]+", name) and re.fullmatch(r"'?[a-z0-9.-]+'?", value)
            settings[name] = value
    return settings


def test_postgresql_settings_keep_row_values_out_of_the_server_log(postgres_url):  # noqa: F811
    """A failing insert of a respondent-like row (duplicate key, failed check) writes the row's
    values to the server log with PostgreSQL's defaults, and nothing of them with the settings
    of scripts/deploy/postgresql-qet.conf (applied to the session: they are superuser settings,
    and the test cluster's own may differ)."""
    import psycopg

    settings = _snippet_settings()
    assert settings.keys() == PG_DEFAULTS.keys()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
        log = Path(data_dir).parent / "server.log"  # where scripts/postgres.sh sends it
        assert log.exists()
        conn.execute(
            "CREATE TEMP TABLE qet_log_probe (pseudonym text PRIMARY KEY, car int CHECK (car < 9))"
        )

        def failing_inserts(values: dict[str, str], marker: str) -> str:
            for name, value in values.items():
                # always quoted: a bare DEFAULT would mean the server's own value
                conn.execute(f"SET {name} = '{value.strip(chr(39))}'")
            before = log.stat().st_size
            conn.execute("INSERT INTO qet_log_probe VALUES (%s, 1)", (f"{marker}-dup",))
            for row in ((f"{marker}-dup", 1), (f"{marker}-check", 99)):
                with pytest.raises(psycopg.errors.IntegrityError):
                    conn.execute("INSERT INTO qet_log_probe VALUES (%s, %s)", row)
            # the backend writes its log lines before it answers
            with log.open("rb") as f:
                f.seek(before)
                return f.read().decode(errors="replace")

        leaked = failing_inserts(PG_DEFAULTS, "respondent-a1b2")
        assert "respondent-a1b2-dup" in leaked and "respondent-a1b2-check" in leaked
        kept = failing_inserts(settings, "respondent-c3d4")
        assert "duplicate key" in kept and "check constraint" in kept  # the errors are logged
        assert "respondent-c3d4" not in kept
        assert "DETAIL" not in kept and "STATEMENT" not in kept
