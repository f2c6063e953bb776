"""Failed attempts per client: the brake on guessing vote codes.

A client is its address: the TCP peer, or, when the peer is one of the service's trusted
reverse proxies (``QET_TRUSTED_PROXIES``, e.g. the nginx of ``docs/deploy.md``), the address
that proxy appended to ``X-Forwarded-For``. Clients that talk to the service directly cannot
choose their address by sending the header: it is read only from a trusted peer.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

from fastapi import Request


class FailureThrottle:
    """At most ``limit`` failures per client in any ``window_s`` seconds.

    Parameters
    ----------
    limit
        Failures allowed in a window; the next attempt waits until the oldest one leaves it.
    window_s
        Length of the sliding window, in seconds.
    clock
        Monotonic clock (tests pass their own).
    max_clients
        Clients remembered at most; the least recently failing are forgotten first, so that
        the memory stays bounded whatever the number of addresses.
    """

    def __init__(
        self,
        limit: int,
        window_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Return the seconds ``client`` must wait before its next attempt (0: it may go on)."""
        with self._lock:
            times = self._prune(client)
            if times is None or len(times) < self.limit:
                return 0
            return max(1, math.ceil(times[0] + self.window_s - self.clock()))

    def failed(self, client: str) -> None:
        """Record a failed attempt of ``client``."""
        with self._lock:
            times = self._prune(client)
            if times is None:
                times = self._failures[client] = deque()
            times.append(self.clock())
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def _prune(self, client: str) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        horizon = self.clock() - self.window_s
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times


def _matches(address: str, trusted: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address in trusted
    for entry in trusted:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(request: Request, trusted_proxies: Sequence[str]) -> str:
    """Return the address of the client that sent ``request``.

    The TCP peer, unless the peer is a trusted proxy (an address or network of
    ``trusted_proxies``): then the right-most address of ``X-Forwarded-For`` that is not itself
    a trusted proxy (nginx's ``$proxy_add_x_forwarded_for`` appends the peer it saw; what the
    client wrote to the left of it is not trusted).
    """
    peer = request.client.host if request.client is not None else "unknown"
    if not trusted_proxies or not _matches(peer, trusted_proxies):
        return peer
    hops = [
        h.strip()
        for line in request.headers.getlist("x-forwarded-for")
        for h in line.split(",")
        if h.strip()
    ]
    for hop in reversed(hops):
        if not _matches(hop, trusted_proxies):
            return hop
    return hops[0] if hops else peer
