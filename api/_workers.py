"""Heavy work on untrusted files in a worker process, under time and memory limits.

An uploaded file can be made to cost far more than its size (a PBF of zero-delta nodes decodes
to millions of objects). Read in the server process, it would hold the GIL, and with it every
request, for as long as it takes. :func:`run_in_worker` runs a function in a new process forked
from a *forkserver* (a clean process that imported the heavy libraries once, so a worker starts
in milliseconds and shares none of the server's threads or sockets), with an address-space limit
(``RLIMIT_AS``), kills it when its time is up, and waits for it without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import os
import resource
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from qet_geo.errors import InputFileError, QetGeoError
from qet_geo.i18n import Msg, msg, number

#: Modules the forkserver imports once, so that each worker starts with them.
PRELOAD = ["qet_geo.store.jobs", "qet_geo.inputs.osm", "qet_geo.layers", "qet_geo.store.models"]
_context: Any = None


class WorkerTimeoutError(Exception):
    """The worker did not finish in its time; it was killed."""


class WorkerFailedError(Exception):
    """The worker died without an answer, or ran out of memory: the file costs too much."""


class WorkerCrashedError(RuntimeError):
    """The function raised an unexpected error in the worker: the server's fault (a 500)."""


@dataclass(frozen=True)
class WorkerLimits:
    """Limits of one worker process.

    Parameters
    ----------
    timeout_s
        Seconds after which the worker is killed (waiting for a slot not included).
    memory_bytes
        Its address space (``RLIMIT_AS``), or None for no limit.
    slots
        Workers of this kind that may run at once in the server process; further calls wait
        (asynchronously) for one to finish. None: no limit.
    """

    timeout_s: float
    memory_bytes: int | None = None
    slots: int | None = None


#: Per event loop (asyncio primitives belong to one), the semaphore of each number of slots.
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _slots(n: int) -> asyncio.Semaphore:
    per_loop = _SLOTS.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault(n, asyncio.Semaphore(n))


def _get_context() -> Any:
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        _context = ctx
    return _context


def _child(
    conn: Connection,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    memory_bytes: int | None,
) -> None:
    """Run ``func`` under the memory limit and send back its result or its error."""
    if memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        conn.send(("ok", func(*args, **kwargs)))
    except QetGeoError as exc:
        # sent as text: the class is found again by name, and the messages are kept whole
        cls = type(exc)
        conn.send(("error", cls.__module__, cls.__qualname__, exc.message, exc.message_fr))
    except MemoryError:
        conn.send(("memory",))
    except BaseException as exc:  # anything else is the server's fault: its type, no content
        if memory_bytes is not None and _out_of_memory(exc):
            conn.send(("memory",))
        else:
            conn.send(("crash", type(exc).__name__))
    finally:
        conn.close()


def _out_of_memory(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is an allocation refused under ``RLIMIT_AS``.

    Under the limit, failures take other shapes than MemoryError: a lazy import whose shared
    library cannot be mapped is an ImportError ("failed to map segment"), a C++ reader's
    std::bad_alloc a RuntimeError, an mmap an OSError (ENOMEM).
    """
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, MemoryError):
            return True
        if isinstance(exc, ImportError | OSError | RuntimeError) and any(
            word in str(exc).lower() for word in ("map", "memory", "alloc")
        ):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _rebuilt(module: str, qualname: str, message: str, message_fr: str) -> QetGeoError:
    try:
        cls: Any = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        if isinstance(cls, type) and issubclass(cls, QetGeoError):
            return cls(message, message_fr=message_fr)
    except (ImportError, AttributeError, TypeError):
        pass
    return QetGeoError(message, message_fr=message_fr)


@contextmanager
def refused_past_limits(limits: WorkerLimits, *, what: Msg, fix: Msg) -> Iterator[None]:
    """Turn a worker killed past its time or memory into the sender's error (422).

    ``what`` names the file ("the extract"), ``fix`` says what to do about it; the message tells
    which limit the file went past.
    """
    try:
        yield
    except WorkerTimeoutError as exc:
        raise InputFileError(
            msg(
                "{what} n'a pas pu être lu en {seconds} s, le maximum que le service lui "
                "accorde : {fix}",
                what=what,
                seconds=number(limits.timeout_s),
                fix=fix,
            )
        ) from exc
    except WorkerFailedError as exc:
        raise InputFileError(
            msg(
                "{what} n'a pas pu être lu dans la mémoire que le service lui accorde : {fix}",
                what=what,
                fix=fix,
            )
        ) from exc


async def run_in_worker(
    func: Callable[..., Any], *args: Any, limits: WorkerLimits, **kwargs: Any
) -> Any:
    """Run ``func(*args, **kwargs)`` in a worker process and return its result.

    ``func`` and its arguments must be picklable (a module-level function). The event loop
    keeps serving while the worker runs: the answer is awaited on the pipe's file descriptor.

    Parameters
    ----------
    func
        The function.
    *args, **kwargs
        Its arguments.
    limits
        Time and memory of the worker.

    Returns
    -------
    Any
        What ``func`` returned.

    Raises
    ------
    QetGeoError
        The error ``func`` raised (same class and messages).
    WorkerTimeoutError
        ``limits.timeout_s`` passed: the worker was killed.
    WorkerFailedError
        The worker ran out of memory or died without an answer.
    WorkerCrashedError
        ``func`` raised something else than a :class:`~qet_geo.errors.QetGeoError` (its type
        only is known: its text may hold the file's values).
    """
    if limits.slots is None:
        return await _run(func, args, kwargs, limits)
    async with _slots(limits.slots):
        return await _run(func, args, kwargs, limits)


async def _run(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], limits: WorkerLimits
) -> Any:
    ctx = _get_context()
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_child, args=(sender, func, args, kwargs, limits.memory_bytes), daemon=True
    )
    loop = asyncio.get_running_loop()
    try:
        # starting may start the forkserver itself (imports: seconds, once): not on the loop
        await loop.run_in_executor(None, process.start)
        sender.close()
        ready: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(receiver.fileno(), readable)
        try:
            await asyncio.wait_for(ready, timeout=limits.timeout_s)
        except TimeoutError as exc:
            raise WorkerTimeoutError(f"killed after {limits.timeout_s:g} s") from exc
        finally:
            loop.remove_reader(receiver.fileno())
        # the loop's reader may leave the pipe non-blocking (uvloop, uvicorn's loop): an answer
        # larger than the pipe's buffer would then fail half-read (EAGAIN); read it whole, off
        # the loop (the worker may still be writing it)
        os.set_blocking(receiver.fileno(), True)
        try:
            answer = await loop.run_in_executor(None, receiver.recv)
        except (EOFError, OSError) as exc:
            raise WorkerFailedError("the worker died without an answer") from exc
    finally:
        receiver.close()
        if process.pid is not None:
            if process.is_alive():
                process.kill()
            await loop.run_in_executor(None, process.join)
    if answer[0] == "ok":
        return answer[1]
    if answer[0] == "error":
        raise _rebuilt(*answer[1:])
    if answer[0] == "memory":
        raise WorkerFailedError("the worker ran out of memory")
    raise WorkerCrashedError(f"the worker failed ({answer[1]})")


# --------------------------------------------------------------------------------------------
# jobs


def store_extract_job(
    database_url: str | None,
    neighbourhood_id: int,
    upload: str,
    *,
    osm_dir: str,
    max_objects: int,
    max_xml_bytes: int | None = None,
) -> Any:
    """Check an uploaded extract, count its objects, then read and store it (in a worker).

    Parameters
    ----------
    database_url
        The store's URL (the worker opens its own connection).
    neighbourhood_id
        The neighbourhood.
    upload
        The uploaded file, inside ``osm_dir``, named with the suffix of its format
        (:func:`qet_geo.store.jobs.extract_suffix`): ``.osm.pbf``, ``.osm``, ``.osm.gz`` or
        ``.osm.bz2``.
    osm_dir
        The service's OSM folder.
    max_objects
        The most OSM objects the file may decode to (:func:`qet_geo.inputs.osm.count_osm_objects`).
    max_xml_bytes
        The most bytes of XML a ``.osm`` extract may have once inflated
        (:func:`qet_geo.store.jobs.check_extract`); None: no limit.

    Returns
    -------
    qet_geo.store.jobs.ExtractInfo
        What :func:`qet_geo.store.jobs.store_extract` returns.
    """
    from qet_geo.store.jobs import store_extract
    from qet_geo.store.models import make_engine

    try:
        engine = make_engine(database_url)
        try:
            return store_extract(
                engine,
                neighbourhood_id,
                upload,
                osm_dir=osm_dir,
                max_objects=max_objects,
                max_xml_bytes=max_xml_bytes,
            )
        finally:
            engine.dispose()
    except QetGeoError as exc:
        # the file is a temporary one of the server: its path means nothing to the sender
        for name in (upload, Path(upload).name):
            exc.message = exc.message.replace(name, "the extract")
            exc.message_fr = exc.message_fr.replace(name, "l'extrait")
        exc.args = (exc.message,)
        exc.path = None
        raise


def analysis_job(database_url: str | None, diagnostic_id: int, **kwargs: Any) -> None:
    """Run a diagnostic's claimed analysis (in a worker; see :func:`qet_geo.store.jobs.run_analysis`).

    The analysis reads the neighbourhood's extract and fits its models: in a process of its
    own, under its limits, it neither holds the server's GIL (the pages stay quick while it
    runs) nor its memory. It records its own progress, result or failure in the store.
    """
    from qet_geo.store.jobs import run_analysis
    from qet_geo.store.models import make_engine

    engine = make_engine(database_url)
    try:
        run_analysis(engine, diagnostic_id, **kwargs)
    finally:
        engine.dispose()


def ingest_su_job(database_url: str | None, diagnostic_id: int, data: bytes, **kwargs: Any) -> Any:
    """Read, locate and store an SU answer file (in a worker; see :func:`qet_geo.store.ingest.ingest_su`).

    The worker opens its own connection to the store; the file is parsed there, never in the
    server process (a 5 MB workbook may unzip to 50 MB of XML and hold the GIL for seconds).
    """
    from qet_geo.store.ingest import ingest_su
    from qet_geo.store.models import make_engine

    engine = make_engine(database_url)
    try:
        return ingest_su(engine, diagnostic_id, data, **kwargs)
    finally:
        engine.dispose()
