"""Read MdV/EdV ("modes de vie", "espaces de vie") answer files.

Yes/no questions on the ease of getting about and the satisfaction with local shops and services;
for food shopping, work and leisure the mode, the travel time band and the destination zone; the
willingness to change and the reasons when not. NEAR's ``way_of_life_answer`` columns are
recognised, as are the keys of :mod:`~qet_geo.surveys.schema`. Decoding, columns and answers as
for every reader (:mod:`~qet_geo.surveys.su`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping

import pandas as pd

from qet_geo.errors import QetGeoWarning
from qet_geo.i18n import msg
from qet_geo.surveys._headers import (
    Field,
    check_columns,
    match_columns,
    no_column_error,
    survey_fields,
)
from qet_geo.surveys._values import (
    parse_levels,
    parse_person,
    vocabulary,
)
from qet_geo.surveys.answers import RowIssues, SurveyRead, assemble, respondent_ids
from qet_geo.surveys.schema import (
    CHANGE_TOPICS,
    MDV_EASE,
    MDV_SATISFACTION,
    TIME_BANDS,
    TRAVEL_MODES,
    TRIP_PURPOSES,
    USAGES,
    WILLINGNESS,
    YES_NO,
    normalise_label,
)
from qet_geo.surveys.tables import (
    Source,
    Table,
    check_table_options,
    is_missing,
    load_table,
)

__all__ = ["read_mdv"]


def read_mdv(
    path: Source,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    columns: Mapping[str, str] | None = None,
) -> SurveyRead:
    """Read an MdV/EdV ("modes de vie", "espaces de vie") answer file.

    Parameters
    ----------
    path
        A CSV, TSV or XLSX file (or a binary file object): a respondent id, yes/no questions
        on the ease of walking, cycling, transit and leaving town by transit and on the
        satisfaction with markets, organic and seasonal food, repair shops, second-hand shops,
        local shops and public services; for food shopping, work and leisure the mode, the
        travel time band and the destination zone; the willingness to change (car, meat, local
        food, second hand) and the reasons when not. NEAR's ``way_of_life_answer`` columns
        are recognised, as are the keys of :mod:`~qet_geo.surveys.schema`.
    sep, encoding, sheet, columns
        As for :func:`read_su`.

    Returns
    -------
    SurveyRead
        ``answers`` indexed by ``respondent_id`` with the columns the file has, typed as the
        schema says (yes/no and modes as categoricals, time bands and willingness as ordered
        categoricals, zones as text, reasons as keys of :data:`~schema.CHANGE_REASONS` joined by
        ";"), plus the SU usages and socio-demographic columns when present.

    Raises
    ------
    InputFileError, EmptyDataError, ValidationError
        As for :func:`read_su`; ValidationError when no MdV column is recognised.

    Warns
    -----
    QetGeoWarning
        Rows were rejected or are partial, or columns were ignored.
    """
    sep = check_table_options(sep=sep, encoding=encoding, sheet=sheet)
    check_columns(columns)
    table = load_table(path, sep=sep, encoding=encoding, sheet=sheet)
    issues: list[QetGeoWarning] = []
    read = _read_mdv(table, columns=columns, issues=issues)
    for issue in issues:
        warnings.warn(issue, stacklevel=2)
    return read


def _read_mdv(
    table: Table, *, columns: Mapping[str, str] | None, issues: list[QetGeoWarning]
) -> SurveyRead:
    found = match_columns(table.header, survey_fields("mdv"), forced=columns, source=table.source)
    main_kinds = {"yes_no", "mode", "time_band", "zone", "willingness", "reasons"}
    if not any(spec.kind in main_kinds for spec in found.values()):
        raise no_column_error(table, "mdv")
    n = len(table.rows)
    rows = RowIssues(n)
    ids = respondent_ids(table, found, rows)
    data: dict[str, pd.Series] = {}
    for i, spec in found.items():
        values = table.column(i)
        if spec.kind == "level":
            data[spec.key] = parse_levels(values, spec.key, rows)
        elif spec.kind in ("yes_no", "mode", "time_band", "willingness"):
            data[spec.key] = _parse_category(values, spec, rows)
        elif spec.kind == "reasons":
            data[spec.key] = _parse_reasons(values, spec, rows)
        elif spec.kind == "zone":
            data[spec.key] = _parse_zones(values, spec, rows)
    order = [*MDV_EASE, *MDV_SATISFACTION]
    for purpose in TRIP_PURPOSES:
        order += [f"{purpose}_mode", f"{purpose}_time_band", f"{purpose}_zone"]
    for topic in CHANGE_TOPICS:
        order += [f"change_{topic}", f"change_{topic}_reasons"]
    order += list(USAGES)
    person = parse_person(table, found, rows)
    answers = pd.DataFrame({k: data[k] for k in order if k in data} | person)
    return assemble(
        table,
        kind="mdv",
        answers=answers,
        ids=ids,
        rows=rows,
        found=found,
        coding="labels",
        usages=tuple(u for u in USAGES if u in data),
        issues=issues,
        extra_notes=[],
    )


_CATEGORY_ORDER: dict[str, tuple[tuple[str, ...], bool]] = {
    "yes_no": (YES_NO, False),
    "mode": (TRAVEL_MODES, False),
    "time_band": (TIME_BANDS, True),
    "willingness": (WILLINGNESS, True),
}


def _parse_category(values: list[str], spec: Field, rows: RowIssues) -> pd.Series:
    vocab = vocabulary(spec.kind)
    categories, ordered = _CATEGORY_ORDER[spec.kind]
    out: list[str | None] = []
    for i, raw in enumerate(values):
        norm = normalise_label(raw)
        if is_missing(norm):
            out.append(None)
            rows.add(i, "partial", msg("pas de réponse à {key}", key=spec.key))
            continue
        value, how = vocab.match(norm)
        if value is None and spec.kind == "time_band":
            value = _minutes_band(norm)
        if value is None:
            out.append(None)
            rows.add(
                i,
                "rejected",
                msg(
                    "réponse inconnue {raw!r} à {key} ; attendu l'une de {expected}",
                    raw=raw,
                    key=spec.key,
                    expected=list(categories),
                ),
            )
            continue
        out.append(str(value))
        if how == "fuzzy":
            rows.add(
                i,
                "note",
                msg(
                    "{raw!r} lu comme {value!r} (orthographe proche) pour {key}",
                    raw=raw,
                    value=value,
                    key=spec.key,
                ),
            )
    return pd.Series(pd.Categorical(out, categories=list(categories), ordered=ordered))


def _parse_zones(values: list[str], spec: Field, rows: RowIssues) -> pd.Series:
    out: list[str | None] = []
    for i, raw in enumerate(values):
        if is_missing(normalise_label(raw)):
            out.append(None)
            rows.add(i, "partial", msg("pas de réponse à {key}", key=spec.key))
        else:
            out.append(raw)
    return pd.Series(out, dtype="string")


def _minutes_band(norm: str) -> str | None:
    found = re.fullmatch(r"(\d+(?:[.,]\d+)?)\s*(?:min|mn|minutes)?", norm)
    if not found:
        return None
    minutes = float(found.group(1).replace(",", "."))
    for limit, band in ((10, "<10"), (20, "10-20"), (30, "20-30"), (45, "30-45")):
        if minutes < limit:
            return band
    return ">45"


def _parse_reasons(values: list[str], spec: Field, rows: RowIssues) -> pd.Series:
    vocab = vocabulary("reasons")
    out: list[str | None] = []
    for i, raw in enumerate(values):
        text = raw.strip().strip("{}[]")
        if is_missing(normalise_label(text)):
            out.append(None)
            continue
        parts = [p.strip().strip("'\"") for p in re.split(r"[;|\n]", text) if p.strip()]
        keys: list[str] = []
        unknown: list[str] = []
        for part in parts:
            # a form tool's select_multiple (KoboToolbox, ODK): the choices' names, space-separated
            tokens = [normalise_label(t) for t in part.split()]
            if len(tokens) > 1 and all(t in vocab.exact for t in tokens):
                keys += [str(vocab.exact[t]) for t in tokens]
                continue
            value, _ = vocab.match(normalise_label(part))
            if value is not None:
                keys.append(str(value))
                continue
            pieces = [p.strip().strip("'\"") for p in part.split(",") if p.strip()]
            matched = [vocab.match(normalise_label(p))[0] for p in pieces]
            if len(pieces) > 1 and all(m is not None for m in matched):
                keys += [str(m) for m in matched]
            else:
                unknown.append(part)
                keys.append("other")
        if unknown:
            rows.add(
                i,
                "note",
                msg("{key} : {unknown} lu(s) comme 'autre'", key=spec.key, unknown=unknown),
            )
        out.append(";".join(dict.fromkeys(keys)))
    return pd.Series(out, dtype="string")
