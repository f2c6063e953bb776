"""Read SU ("Sphères / Profils d'Usages") answer files: one level 1 to 3 per usage.

A respondent id column, one column per usage question, and optionally age band, gender and
socio-professional category columns, and location columns. How the file is decoded, its columns
recognised and its answers matched: :mod:`~qet_geo.surveys.tables`,
:mod:`~qet_geo.surveys._headers`, :mod:`~qet_geo.surveys._values`; what it returns:
:mod:`~qet_geo.surveys.answers`.

Numeric codes
-------------
SU files may hold codes instead of labels. With ``codes=None`` the file is read as codes when
every answer of every usage column is a whole number, as 1/2/3 when a 3 appears (or neither a 0
nor a 3: 1-based is then assumed and noted), as 0/1/2 when a 0 appears;
:attr:`~qet_geo.surveys.answers.SurveyRead.coding` says which. ``codes=True`` / ``False`` and
``code_base=0`` / ``1`` force it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.i18n import Msg, msg
from qet_geo.surveys._headers import (
    check_columns,
    match_columns,
    no_column_error,
    survey_fields,
)
from qet_geo.surveys._values import (
    INTEGER,
    label_fr,
    no_answer,
    parse_levels,
    parse_number,
    parse_person,
)
from qet_geo.surveys.answers import RowIssues, SurveyRead, assemble, respondent_ids
from qet_geo.surveys.schema import (
    USAGES,
    normalise_label,
)
from qet_geo.surveys.tables import (
    Source,
    Table,
    check_table_options,
    is_missing,
    load_table,
)

__all__ = ["read_su"]


def read_su(
    path: Source,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    codes: bool | None = None,
    code_base: int | None = None,
    columns: Mapping[str, str] | None = None,
) -> SurveyRead:
    """Read an SU ("Sphères / Profils d'Usages") answer file.

    Parameters
    ----------
    path
        A CSV, TSV or XLSX file (or a binary file object), such as NEAR's export: a respondent
        id column, then one column per usage question, and optionally age band, gender and
        socio-professional category columns, and location columns.
    sep
        tab, ``;``, ``,`` or ``|``; guessed by default.
    encoding
        Text encoding, e.g. ``"cp1252"``; guessed by default (UTF-8 with or without BOM,
        UTF-16 with BOM, cp1252, latin-1).
    sheet
        XLSX only: the sheet name or 0-based position; the first sheet by default.
    codes
        None (detect), True (answers are numeric codes) or False (answers are labels).
    code_base
        0 or 1: the code of the lowest-carbon answer when answers are codes (0/1/2 or 1/2/3);
        detected by default.
    columns
        Header → field key (``"meat_frequency"``, ``"respondent_id"``, ``"age_band"``...), to
        force how columns are read.

    Returns
    -------
    SurveyRead
        ``answers``: index ``respondent_id``; one ``Int8`` column per usage of
        :data:`~schema.USAGES` with the level 1..3 (``<NA>`` when unanswered, or when the file
        has no column for it); ``age_band``, ``gender``, ``csp`` (categoricals) when the file has
        them. ``report``: one line per row.

    Raises
    ------
    InputFileError
        The file is missing, unreadable, not text nor XLSX, or cannot be decoded.
    EmptyDataError
        The file is empty or has a header and no row.
    ValidationError
        No usage column is recognised, two columns are recognised as the same question, the
        codes mix 0 and 3, or an option is invalid.

    Warns
    -----
    QetGeoWarning
        Rows were rejected or are partial, columns were ignored, or the codes are ambiguous.
    """
    sep = check_table_options(sep=sep, encoding=encoding, sheet=sheet)
    check_columns(columns)
    if codes is not None and not isinstance(codes, bool):
        raise ValidationError(
            msg("codes doit valoir None, True ou False, pas {codes!r}.", codes=codes)
        )
    if code_base is not None and code_base not in (0, 1):
        raise ValidationError(
            msg(
                "code_base doit valoir 0 (codes 0/1/2) ou 1 (codes 1/2/3), pas {code_base!r}.",
                code_base=code_base,
            )
        )
    table = load_table(path, sep=sep, encoding=encoding, sheet=sheet)
    issues: list[QetGeoWarning] = []
    read = _read_su(table, columns=columns, codes=codes, code_base=code_base, issues=issues)
    for issue in issues:
        warnings.warn(issue, stacklevel=2)
    return read


def _read_su(
    table: Table,
    *,
    columns: Mapping[str, str] | None,
    codes: bool | None,
    code_base: int | None,
    issues: list[QetGeoWarning],
) -> SurveyRead:
    fields = survey_fields("su")
    found = match_columns(table.header, fields, forced=columns, source=table.source)
    usage_cols = {spec.key: i for i, spec in found.items() if spec.kind == "level"}
    if not usage_cols or _holds_footprints(table, usage_cols.values()):
        raise no_column_error(table, "su")
    coding, base = _su_coding(table, usage_cols, codes=codes, code_base=code_base, issues=issues)
    n = len(table.rows)
    rows = RowIssues(n)
    ids = respondent_ids(table, found, rows)
    data: dict[str, pd.Series] = {}
    for usage in USAGES:
        if usage not in usage_cols:
            data[usage] = pd.Series(pd.NA, index=range(n), dtype="Int8")
            continue
        values = table.column(usage_cols[usage])
        if coding == "labels":
            data[usage] = parse_levels(values, usage, rows)
        else:
            data[usage] = _parse_codes(values, usage, base, rows)
    present = tuple(u for u in USAGES if u in usage_cols)
    for i in range(n):
        answered = [u for u in present if not pd.isna(data[u].iloc[i])]
        if not answered and not any(s == "rejected" for s, _ in rows.items[i]):
            rows.add(i, "rejected", msg("aucun usage renseigné"))
    person = parse_person(table, found, rows)
    answers = pd.DataFrame({**data, **person})
    return assemble(
        table,
        kind="su",
        answers=answers,
        ids=ids,
        rows=rows,
        found=found,
        coding=coding,
        usages=present,
        issues=issues,
        extra_notes=[] if len(present) == len(USAGES) else [_missing_usages_note(present)],
    )


def _holds_footprints(table: Table, columns: Iterable[int]) -> bool:
    """Tell whether SU-looking columns hold kgCO2e figures (an NGC file read as SU)."""
    values = [v for i in columns for v in table.column(i) if not is_missing(normalise_label(v))]
    figures = [x for x in (parse_number(v) for v in values) if x is not None]
    return bool(values) and sum(1 for x in figures if x not in (0, 1, 2, 3)) > len(values) / 2


def _missing_usages_note(present: tuple[str, ...]) -> Msg:
    absent = [u for u in USAGES if u not in present]
    return msg(
        "pas de colonne pour {questions} : les lignes complètes demandent les {n} usages présents",
        questions=", ".join(label_fr(u) for u in absent),
        usages=", ".join(absent),
        n=len(present),
    )


def _su_coding(
    table: Table,
    usage_cols: Mapping[str, int],
    *,
    codes: bool | None,
    code_base: int | None,
    issues: list[QetGeoWarning],
) -> tuple[str, int]:
    """Decide whether usage answers are labels or codes, and the codes' base."""
    values = {
        v
        for i in usage_cols.values()
        for v in table.column(i)
        if not is_missing(normalise_label(v))
    }
    all_integers = bool(values) and all(INTEGER.match(v) for v in values)
    if codes is False or (codes is None and not all_integers):
        return "labels", 1
    numbers = {int(float(v)) for v in values if INTEGER.match(v)}
    if code_base is None:
        if 0 in numbers and 3 in numbers:
            raise ValidationError(
                msg(
                    "{source} : les réponses aux usages sont des nombres de 0 à 3, donc ni des "
                    "codes 0/1/2 ni 1/2/3 : corrigez le fichier, ou passez code_base=0 ou "
                    "code_base=1 pour rejeter les lignes hors plage.",
                    source=table.source,
                )
            )
        if 0 in numbers:
            code_base = 0
        else:
            code_base = 1
            if 3 not in numbers:
                issues.append(
                    QetGeoWarning(
                        msg(
                            "{source} : les codes des usages ne valent que 1 et 2, ils peuvent "
                            "donc être des codes 0/1/2 ou 1/2/3 ; lus comme 1/2/3 (1 = le plus "
                            "sobre). Passez code_base=0 si 0 est la réponse la plus sobre.",
                            source=table.source,
                        )
                    )
                )
    return ("codes 0-2" if code_base == 0 else "codes 1-3"), code_base


def _parse_codes(values: list[str], usage: str, base: int, rows: RowIssues) -> pd.Series:
    out: list[Any] = []
    allowed = (base, base + 1, base + 2)
    for i, raw in enumerate(values):
        norm = normalise_label(raw)
        if is_missing(norm):
            out.append(pd.NA)
            rows.add(i, "partial", no_answer(usage))
            continue
        if not INTEGER.match(raw) or int(float(raw)) not in allowed:
            out.append(pd.NA)
            rows.add(
                i,
                "rejected",
                msg(
                    "le code {raw!r} pour {question} n'est pas l'un de {allowed}",
                    raw=raw,
                    question=label_fr(usage),
                    allowed=list(allowed),
                    usage=usage,
                ),
            )
            continue
        out.append(int(float(raw)) - base + 1)
    return pd.Series(out, dtype="Int8")
