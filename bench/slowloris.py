"""Slow loris against ``qet serve`` alone, then against the deployment behind nginx.

Opens ``--connections`` connections from 127.0.0.2 that send a request line and then one header
line per second (each connection closed by the server is reopened at once, as attack tools
do), for ``--seconds`` seconds, while a normal client on 127.0.0.1 sends ``GET
/neighbourhoods`` on a fresh connection every half second (10 s timeout each). Twice:

- **direct**: ``qet serve`` (uvicorn) alone on 127.0.0.1, with ``--uvicorn-nofile`` open files
  (1 024: the soft limit a service gets from systemd or a login shell by default);
- **nginx**: ``scripts/serve.sh`` (nginx in front of the same ``qet serve``; default timeouts
  and limits of docs/deploy.md).

Prints, for each: the attack connections open at the peak, how many the server closed, and the
normal client's answers (ok / sent) and latency (median, worst). Everything stays on loopback;
the attack is bounded in count and time and stops by itself. A temporary SQLite store.

Usage: ``python bench/slowloris.py [--connections 4000] [--seconds 20] [--uvicorn-nofile 1024]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ATTACKER = "127.0.0.2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the server on port {port} did not start")
        time.sleep(0.1)


@dataclass
class Figures:
    """What the attacker and the normal client saw."""

    open_now: int = 0
    peak: int = 0
    closed_by_server: int = 0
    connect_failures: int = 0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    sent: int = 0


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect from :data:`ATTACKER`, the source port chosen by ``connect`` (a ``bind`` to port 0
    with thousands of ports in TIME_WAIT blocks the event loop: IP_BIND_ADDRESS_NO_PORT)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24), 1)
        sock.bind((ATTACKER, 0))
        sock.setblocking(False)
        await asyncio.wait_for(
            asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port)), 10
        )
        return await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise


async def loris(port: int, fig: Figures, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            reader, writer = await connect(port)
        except (OSError, TimeoutError) as exc:
            fig.connect_failures += 1
            fig.failures.append(f"attacker {type(exc).__name__}")
            await asyncio.sleep(1)
            continue
        fig.open_now += 1
        fig.peak = max(fig.peak, fig.open_now)
        try:
            writer.write(b"GET /slowloris HTTP/1.1\r\nHost: qet\r\n")
            while time.monotonic() < deadline:
                try:
                    data = await asyncio.wait_for(reader.read(1024), 1.0)
                except TimeoutError:
                    writer.write(b"X-Slow: 1\r\n")
                    await writer.drain()
                    continue
                if not data:
                    fig.closed_by_server += 1
                    break
        except ConnectionError:
            fig.closed_by_server += 1
        finally:
            fig.open_now -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)


async def normal_client(url: str, fig: Figures, deadline: float) -> None:
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.1")
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(transport=transport, limits=limits, timeout=10) as client:
        await asyncio.sleep(3)  # let the attack build up
        while time.monotonic() < deadline:
            fig.sent += 1
            start = time.monotonic()
            try:
                r = await client.get(f"{url}/neighbourhoods")
                if r.status_code == 200:
                    fig.latencies.append(time.monotonic() - start)
                else:
                    fig.failures.append(str(r.status_code))
            except httpx.HTTPError as exc:
                fig.failures.append(type(exc).__name__)
            await asyncio.sleep(0.5)


async def attack(port: int, n: int, seconds: float) -> Figures:
    fig = Figures()
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        normal_client(f"http://127.0.0.1:{port}", fig, deadline),
        *(loris(port, fig, deadline) for _ in range(n)),
    )
    return fig


def report(name: str, n: int, fig: Figures) -> None:
    attackers = [k for k in fig.failures if k.startswith("attacker ")]
    fig.failures = [k for k in fig.failures if not k.startswith("attacker ")]
    lat = sorted(fig.latencies)
    med = f"{statistics.median(lat) * 1000:.0f} ms" if lat else "-"
    worst = f"{lat[-1] * 1000:.0f} ms" if lat else "-"
    kinds = {k: fig.failures.count(k) for k in sorted(set(fig.failures))}
    print(
        f"{name:7s} {n:6d} attackers: peak {fig.peak:6d} open, {fig.closed_by_server:6d} closed "
        f"by the server, {fig.connect_failures:5d} connect failures | normal client "
        f"{len(lat):3d}/{fig.sent:3d} ok, median {med}, worst {worst}"
        + (f", failures {kinds}" if kinds else "")
    )
    if attackers:
        print(f"        attacker errors: { {k: attackers.count(k) for k in set(attackers)} }")


def run_direct(args: argparse.Namespace, folder: Path, env: dict[str, str]) -> Figures:
    port = free_port()

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.uvicorn_nofile, args.uvicorn_nofile))

    proc = subprocess.Popen(
        [
            os.environ.get("QET_QET", str(ROOT / ".venv" / "bin" / "qet")),
            "serve",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env={**env, "QET_DATABASE_URL": f"sqlite:///{folder / 'direct.db'}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=limit,
        start_new_session=True,
    )
    try:
        wait_port(port, proc)
        return asyncio.run(attack(port, args.connections, args.seconds))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def run_nginx(args: argparse.Namespace, folder: Path, env: dict[str, str]) -> Figures:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        raise SystemExit("nginx is not installed (apt-get install nginx)")
    port = free_port()
    env = {
        **env,
        "QET_RUN_DIR": str(folder / "run"),
        "QET_LISTEN": f"127.0.0.1:{port}",
        "QET_UVICORN_PORT": str(free_port()),
        "QET_WORKERS": "1",
        "QET_DATABASE_URL": f"sqlite:///{folder / 'nginx.db'}",
    }
    serve = ["bash", str(ROOT / "scripts" / "serve.sh")]
    proc = subprocess.Popen(
        [*serve, "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not (folder / "run" / "ready").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("scripts/serve.sh did not start")
            time.sleep(0.1)
        return asyncio.run(attack(port, args.connections, args.seconds))
    finally:
        subprocess.run([*serve, "stop"], env=env, capture_output=True, timeout=90, check=False)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--uvicorn-nofile", type=int, default=1024)
    parser.add_argument("--only", choices=("direct", "nginx"), default=None)
    args = parser.parse_args()
    if not 1 <= args.connections <= 30_000 or not 5 <= args.seconds <= 300:
        raise SystemExit("--connections 1..30000, --seconds 5..300")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.connections + 512
    if hard != resource.RLIM_INFINITY and hard < want:
        raise SystemExit(f"open-file hard limit {hard} < {want}: fewer --connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))

    base = Path(tempfile.mkdtemp(prefix="qet-slowloris-"))
    base.chmod(0o711)  # nginx's workers (www-data when root) reach the runtime folder
    env = {**os.environ, "QET_KEY_DIR": str(base / "keys")}
    try:
        print(f"slow loris: {args.connections} connections from {ATTACKER}, {args.seconds:.0f} s")
        if args.only in (None, "direct"):
            report("direct", args.connections, run_direct(args, base, env))
        if args.only in (None, "nginx"):
            report("nginx", args.connections, run_nginx(args, base, env))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
