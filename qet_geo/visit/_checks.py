"""Guards shared by the visit modules (private)."""

from __future__ import annotations

import math

from qet_geo.errors import ValidationError


def _check_max_snap(max_snap_m: float) -> float:
    value = float(max_snap_m)
    if not math.isfinite(value) or value <= 0:
        raise ValidationError(
            f"max_snap_m must be a positive number of metres, not {max_snap_m!r}.",
            message_fr=f"max_snap_m doit être un nombre positif de mètres, et non {max_snap_m!r}.",
        )
    return value


def _check_lang(lang: str) -> None:
    if lang not in ("fr", "en"):
        raise ValidationError(
            f"lang must be 'fr' or 'en', not {lang!r}.",
            message_fr=f"lang doit valoir 'fr' ou 'en', et non {lang!r}.",
        )
