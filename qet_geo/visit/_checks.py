"""Guards shared by the visit modules (private)."""

from __future__ import annotations

import math

from qet_geo.errors import ValidationError
from qet_geo.i18n import msg


def _check_max_snap(max_snap_m: float) -> float:
    value = float(max_snap_m)
    if not math.isfinite(value) or value <= 0:
        raise ValidationError(
            msg(
                "max_snap_m doit être un nombre positif de mètres, et non {max_snap_m!r}.",
                max_snap_m=max_snap_m,
            )
        )
    return value


def _check_lang(lang: str) -> None:
    if lang not in ("fr", "en"):
        raise ValidationError(msg("lang doit valoir 'fr' ou 'en', et non {lang!r}.", lang=lang))
