"""Assembly of the qet-geo service: settings, store, error table, routers."""

from __future__ import annotations

import gc
import logging
import os
import re
import time
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api._aggregates import AggregateCache
from api._docs import add_docs
from api._headers import add_security_headers
from api._limits import add_body_limits
from api.errors import add_exception_handlers
from api.routers import (
    aggregates,
    jobs,
    layers,
    maps,
    national,
    neighbourhoods,
    routes,
    uploads,
    votes,
)
from api.settings import Settings
from api.web import add_web
from qet_geo.store.models import create_schema, make_engine

logger = logging.getLogger(__name__)

#: Name pattern of the temporary files of extract uploads (api/routers/layers.py):
#: ``.upload-<pid of the server process>-<random>`` and the suffix of the format sent
#: (``.osm.pbf``, ``.osm``, ``.osm.gz``, ``.osm.bz2``).
UPLOAD_TEMP_GLOB = ".upload-*"
_UPLOAD_PID = re.compile(r"^\.upload-(\d+)-")
#: Where no process table can be read (not Linux), only temporary files older than this are
#: taken as abandoned.
UPLOAD_TEMP_MAX_AGE_S = 3600.0
#: The vendored htmx, served at ``/static/htmx/``.
HTMX_STATIC = Path(__file__).resolve().parent / "static" / "htmx"
#: The secret part of an invitation link's path (``/invitation/<token>``), redacted in logs.
_INVITATION_TOKEN = re.compile(r"(/invitation/)[^/?#\s\"']+")
#: A vote's participant code in the public forum's address (``?code=``, from its QR card).
_VOTE_CODE = re.compile(r"(/q/[^/?#\s\"']+/forum[^?#\s\"']*\?(?:[^#\s\"']*&)?code=)[^&#\s\"']+")


def _redacted(text: str) -> str:
    if "/invitation/" in text:
        text = _INVITATION_TOKEN.sub(r"\1[…]", text)
    if "code=" in text:
        text = _VOTE_CODE.sub(r"\1[…]", text)
    return text


class RedactInvitationTokens(logging.Filter):
    """Replace the secrets of an address by ``[…]`` in a log record (the access log's request
    line): an invitation link's token (whoever reads the server's logs must not be able to
    open the account) and a vote's participant code in the public forum's address (``?code=``
    from the QR card: nor vote in the place of a resident who has not voted yet)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) if isinstance(a, str) else a for a in record.args)
        return True


_REDACT = RedactInvitationTokens()
#: The loggers that write request lines: uvicorn's access log (``qet serve``, any uvicorn or
#: gunicorn with uvicorn workers), and its error log, which names the path of a failed request.
ACCESS_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact_access_logs() -> None:
    """Keep invitation tokens out of the request lines of the server's logs (idempotent).

    The filter sits on the loggers, not on a handler, so that it holds whatever handlers the
    server's logging configuration installs (uvicorn's own, ``--log-config``, a journal).
    """
    for name in ACCESS_LOGGERS:
        logging.getLogger(name).addFilter(_REDACT)


def _open_files() -> set[Path] | None:
    """Return the files held open by the processes this user may inspect (None without /proc)."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    held: set[Path] = set()
    for fd_dir in proc.glob("[0-9]*/fd"):
        try:
            names = os.listdir(fd_dir)
        except OSError:  # another user's process, or gone
            continue
        for name in names:
            try:
                held.add(Path(os.readlink(fd_dir / name)))
            except OSError:
                continue
    return held


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid > 0
    return True


def remove_abandoned_uploads(folder: str | Path | None) -> list[Path]:
    """Remove the temporary files that killed extract uploads left in the OSM folder.

    An extract upload streams its body to ``.upload-<pid>-*.osm.pbf`` beside the extracts and
    removes it when done; a server killed meanwhile leaves it behind, possibly hundreds of MB.
    At start, such a file is removed when the process named in it is gone, or is this very
    process (a pid reused, as in a container): the uploads of the other workers of a running
    server (a worker restarted by uvicorn starts while they serve) are kept, also while they
    wait for an extract worker with the file closed. A file that any process holds open is kept
    in every case. Files named without a pid are removed unless held open; without a process
    table (not Linux), only when untouched for :data:`UPLOAD_TEMP_MAX_AGE_S`.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    if folder is None or not Path(folder).is_dir():
        return []
    candidates = sorted(Path(folder).glob(UPLOAD_TEMP_GLOB))
    if not candidates:
        return []
    held = _open_files()
    removed = []
    for path in candidates:
        owner = _UPLOAD_PID.match(path.name)
        try:
            pid = None if owner is None else int(owner.group(1))
            if pid is not None and pid != os.getpid() and _alive(pid):
                continue  # another process of the server streams it, or waits to read it
            if held is not None:
                if path.resolve() in held:
                    continue
            elif owner is None and time.time() - path.stat().st_mtime < UPLOAD_TEMP_MAX_AGE_S:
                continue
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    if removed:
        logger.info("removed %s temporary files of interrupted extract uploads", len(removed))
    return removed


def shared_data_folder() -> Path | None:
    """The shared data folder (France's outlines...): ``$QET_SHARED_DATA``, else ../shared/data.

    As the CLI finds it (``qet demo``): the variable when set, else ``shared/data`` beside the
    checkout or beside the working folder; None when none exists (the maps then say what they
    lack).
    """
    env = os.environ.get("QET_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [
        Path(__file__).resolve().parents[2] / "shared" / "data",
        Path.cwd().parent / "shared" / "data",
    ]
    return next((path for path in candidates if path.is_dir()), None)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service for ``settings`` (read from ``QET_*`` variables when None)."""
    settings = settings or Settings()
    redact_access_logs()
    app = FastAPI(
        title="qet-geo",
        version="0.1.0",
        description="Service d'analyse géographique du réseau Quartiers en Transitions : "
        "quartiers, enquêtes, indicateurs protégés (secret statistique : au moins 11 "
        "répondants derrière tout chiffre publié).",
        docs_url=None,  # FastAPI's pages load Swagger UI and ReDoc from a CDN: api/_docs.py
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.lang = settings.lang
    app.state.engine = make_engine(settings.database_url)
    app.state.aggregates = AggregateCache()
    app.state.cell_loads = {}  # diagnostic id -> pending look-up (aggregates.cells_for_caller)
    app.state.token_cache = {}
    app.state.shared_data = shared_data_folder()
    create_schema(app.state.engine)
    remove_abandoned_uploads(settings.osm_dir)
    add_exception_handlers(app)
    add_body_limits(app, settings)
    add_security_headers(app)
    # The indicators page is the hot path (bench/api.py) and routes are matched in order: every
    # router in front of it adds to its cost (the two that were took 13 % of its time in the app).
    app.include_router(aggregates.router)
    app.include_router(neighbourhoods.router)
    app.include_router(layers.router)
    app.include_router(uploads.router)
    app.include_router(jobs.router)
    app.include_router(votes.router)
    app.include_router(national.router)
    app.include_router(routes.router)
    app.include_router(maps.router)
    add_web(app)
    add_docs(app)
    # htmx for the web pages' partial updates, vendored (api/static/README.md)
    app.mount("/static/htmx", StaticFiles(directory=HTMX_STATIC), name="htmx")
    return app


def create_served_app() -> FastAPI:
    """Build the service for a server process (``qet serve``, one call per worker).

    Settings come from the ``QET_*`` variables. The objects that exist once the app is built
    (those of geopandas, pandas, SQLAlchemy... : over 200 000) are moved out of the garbage
    collector's reach with :func:`gc.freeze`: they live as long as the process, and each full
    collection that scanned them stopped every request for about 100 ms.
    """
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
