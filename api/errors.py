"""The one table mapping qet-geo errors to HTTP statuses, and the handlers that apply it.

Authorisation policy (OWASP API1): an object the caller may not *see* answers 404, exactly as a
missing one, so ids cannot be probed; an object the caller sees but may not *change* (network
staff or the public writing) answers 403. Bodies are ``{"detail": <message>, "code": <class>}``,
in French unless the request says ``Accept-Language: en``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from qet_geo.errors import (
    CRSError,
    DataCoverageError,
    EmptyDataError,
    InputFileError,
    QetGeoError,
    UnknownCodeError,
    ValidationError,
)
from qet_geo.privacy import DisclosureError
from qet_geo.store.models import ConflictError, NotFoundError


class AuthenticationError(QetGeoError):
    """The bearer token is unknown."""


class PermissionDeniedError(QetGeoError):
    """The caller sees the object but its role may not do this to it."""


class PayloadTooLargeError(QetGeoError):
    """The request body is larger than the service accepts."""


class StoreUnavailableError(QetGeoError):
    """The database could not commit now (lock, serialisation failure, lost connection)."""


#: Error class → HTTP status. The most specific class of an error's MRO wins.
STATUS_CODES: dict[type[QetGeoError], int] = {
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    UnknownCodeError: 404,
    ConflictError: 409,
    PayloadTooLargeError: 413,
    StoreUnavailableError: 503,
    DisclosureError: 422,
    InputFileError: 422,
    EmptyDataError: 422,
    DataCoverageError: 422,
    CRSError: 422,
    ValidationError: 422,
    QetGeoError: 400,
}


def status_for(error: QetGeoError) -> int:
    """Return the HTTP status of ``error`` from :data:`STATUS_CODES`."""
    for cls in type(error).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 400


def request_lang(request: Request) -> str:
    """Return the language of the answer: "en" if the request asks for it, else the default."""
    accept = request.headers.get("accept-language", "")
    default = getattr(request.app.state, "lang", "fr")
    return "en" if accept.lower().startswith("en") else default


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer a :class:`QetGeoError` with its status and ``{"detail", "code"}`` body."""
    assert isinstance(exc, QetGeoError)  # registered for QetGeoError only
    status = status_for(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "5"}
    return JSONResponse(
        {"detail": exc.localized(request_lang(request)), "code": type(exc).__name__},
        status_code=status,
        headers=headers,
    )


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    """Answer 422 with where and why a request is malformed, never with what it held.

    FastAPI's own answer echoes each faulty value (``input``), however large or personal it is:
    only the field path, the message and the error type are returned here.
    """
    assert isinstance(exc, RequestValidationError)  # registered for it only
    errors = [
        {
            "loc": [part if isinstance(part, int | str) else str(part) for part in e["loc"]],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    return JSONResponse({"detail": errors, "code": "RequestValidationError"}, status_code=422)


def add_exception_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every :class:`QetGeoError`, and malformed requests, into
    their status."""
    app.add_exception_handler(QetGeoError, handle_api_error)
    app.add_exception_handler(RequestValidationError, _handle_validation)
