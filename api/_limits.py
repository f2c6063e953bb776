"""Request bodies read under a size limit: 413 on the declared length, before reading, or as
soon as a chunked body goes past it."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request

from api.errors import PayloadTooLargeError


def too_large(limit: int) -> PayloadTooLargeError:
    """Return the error of a body larger than ``limit`` bytes."""
    return PayloadTooLargeError(
        f"the file is larger than {limit} bytes: split it or ask the network to raise the limit.",
        message_fr=f"le fichier dépasse {limit} octets : découpez-le ou demandez au réseau "
        "d'augmenter la limite.",
    )


async def limited_chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    """Yield the body's chunks, refusing (413) a body larger than ``limit`` bytes.

    A ``Content-Length`` above the limit is refused before anything is read; a lying or absent
    one is caught while streaming.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            size = -1
        if size > limit:
            raise too_large(limit)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large(limit)
        yield chunk
