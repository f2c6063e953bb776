"""Reference SU answers: the usage profiles of a real survey, to calibrate against.

The answers of NEAR's test survey, embedded, are the reference both for the synthetic answers
(:func:`qet_geo.surveys.synthetic.synthesize_answers` draws whole rows of them) and for the
service's profiles when a diagnostic has too few answers of its own
(:mod:`qet_geo.store.ingest`). Neither of them needs the other: both read this module.
"""

from __future__ import annotations

import pandas as pd

from qet_geo.errors import EmptyDataError, ValidationError
from qet_geo.i18n import msg
from qet_geo.surveys.schema import USAGES

__all__ = ["SURVEY0_PROFILES", "reference_profiles"]

#: The 313 complete answers of NEAR's test survey ``survey_0.tsv`` (ABC-TransitionBasCarbone/near,
#: MIT licence) as profiles: six levels in the order of :data:`~qet_geo.surveys.schema.USAGES`,
#: ``:count`` when more than one respondent gave it (:func:`reference_profiles` recomputes it).
SURVEY0_PROFILES = """
111121 111211 111222 111311 111321 112111 112112:2 112122 112212:2 112221 112311
113212:2 113213 113223 113321 121111 121311 121321 122111 122132 122221 122311 122321
122323 123112:2 123121 132212:2 132231:2 132311 133222 133332 211112 211211 211212:2
211312 212111 212112:3 212121 212221:6 212222:6 212311:2 212312 212321:3 212322:2 212332
213111 213122:2 213211:3 213221 213222:3 213311:3 213312:2 213321:2 213332 221212
221221:2 221222 222111:2 222112:2 222211:2 222212:7 222213 222221 222222:4 222223 222232
222311:2 222312:2 222321 222322:2 222331 223112:2 223121:2 223122 223211:2 223212:8
223221:5 223222 223231 223232:2 223311 223312:3 223322:3 223331 223332 231212 231312
232111 232211:2 232212:4 232221:3 232222:3 232231 232311 232312 232321 232322 233111
233211:2 233212:3 233221:2 233222:3 233321:3 233322 311112 311122 311211:3 311212:2
311222 311311 311322 312111 312112 312121 312212:2 312221:2 312222 312232:2 312311
312312 312321:2 313111 313112 313121:2 313122:2 313211:3 313221:5 313222 313322 321221
322112 322121:2 322211:2 322212 322221:4 322222:2 322231 322311:3 322312:2 322322 323122
323211:8 323212:2 323221:2 323222:3 323223 323231 323311:3 323312 323321:2 323322:3
331222 332121 332122 332211:4 332212:2 332221:5 332222 332231:2 332312:2 332322 333111
333112 333131 333211:3 333212:2 333222:5 333231:2 333311 333321 333322 333331
"""


def reference_profiles(answers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return reference SU answers as complete six-level profiles.

    Parameters
    ----------
    answers
        An SU frame; its complete rows are kept. None for the embedded :data:`SURVEY0_PROFILES`.

    Returns
    -------
    pandas.DataFrame
        One row per respondent (``Int8`` levels, one column per usage), in profile order.
    """
    if answers is None:
        rows: list[list[int]] = []
        for item in SURVEY0_PROFILES.split():
            key, _, count = item.partition(":")
            rows.extend([[int(ch) for ch in key]] * (int(count) if count else 1))
        return pd.DataFrame(rows, columns=list(USAGES)).astype("Int8")
    missing = [u for u in USAGES if u not in answers.columns]
    if missing:
        raise ValidationError(
            msg(
                "Les réponses de référence n'ont pas les usages {missing}.",
                missing=", ".join(missing),
            )
        )
    levels = answers[list(USAGES)].apply(pd.to_numeric, errors="coerce")
    complete = levels.dropna()
    if not complete.isin([1, 2, 3]).all(axis=None):
        raise ValidationError(
            msg("Les réponses de référence doivent contenir des niveaux 1, 2 ou 3.")
        )
    if complete.empty:
        raise EmptyDataError(
            msg("Les réponses de référence n'ont aucune ligne complète (six usages renseignés).")
        )
    out = complete.astype(int).sort_values(list(USAGES)).reset_index(drop=True)
    return out.astype("Int8")
