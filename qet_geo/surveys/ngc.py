"""Read NosGestesClimat (carbon footprint) results, one respondent a row.

:func:`read_ngc` is the one reader of NosGestesClimat results: NGC's rule names, the French titles
of its results ("Empreinte totale (t)") and NEAR's names, each column in the unit its header
states, else detected. It flags sub-categories above their category and totals more than 2 % off
the sum of the categories, and numbers respondents from 1, with a warning, when there is no id
column. With ``errors="raise"`` a row that cannot be read raises instead of being rejected: that
is how :func:`qet_geo.analysis.footprint.read_ngc_results` reads, and returns the figures as a
frame.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd

from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.i18n import join, msg
from qet_geo.surveys._headers import (
    Field,
    check_columns,
    match_columns,
    no_column_error,
    split_unit,
    survey_fields,
)
from qet_geo.surveys._values import (
    parse_levels,
    parse_number,
    parse_person,
)
from qet_geo.surveys.answers import RowIssues, SurveyRead, assemble, respondent_ids
from qet_geo.surveys.schema import (
    NGC_CATEGORIES,
    NGC_COLUMNS,
    NGC_SUBCATEGORIES,
    USAGES,
    normalise_label,
)
from qet_geo.surveys.tables import (
    Source,
    SourceName,
    Table,
    check_table_options,
    is_missing,
    load_table,
)

__all__ = ["read_ngc"]


def read_ngc(
    path: Source,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    unit: Literal["kg", "t"] | None = None,
    columns: Mapping[str, str] | None = None,
    id_column: str | None = None,
    errors: Literal["reject", "raise"] = "reject",
) -> SurveyRead:
    """Read NosGestesClimat (carbon footprint) results, one respondent a row.

    Parameters
    ----------
    path
        A CSV, TSV or XLSX file (or a binary file object) with a respondent id and per-category
        results: ``bilan`` (total), alimentation, transport (avion, voiture, transports en
        commun), logement (chauffage), divers (numérique, textile), services sociétaux. NGC rule
        names (``transport . avion``), the French titles of NGC's results ("Empreinte totale",
        "Transports en commun", "Vêtements"), NEAR's database names (``transportation_plane``)
        and the keys of :data:`~schema.NGC_COLUMNS` are recognised, with or without a unit at the
        end ("Avion (t)", "Logement (kg CO2e/an)"). Decimal commas and spaces between thousands
        are read.
    sep, encoding, sheet, columns
        As for :func:`read_su`.
    unit
        "kg" or "t": the unit of every figure of the file, whatever the headers say. By default,
        when a header states a unit (``(t)``, ``tCO2e``, ``tonnes``, ``(kg)``...), each column is
        read in the unit of its header and the columns without one in kilograms; when no header
        does, tonnes if the median total is below 100 (no one emits less than 100 kgCO2e a
        year), else kilograms.
    id_column
        The header of the respondent ids; by default the column named ``respondent_id``, ``id``,
        ``identifiant``, ``simulation_id``, … When there is none, respondents are numbered 1, 2,
        … in file order, with a warning: the results then cannot be linked to other surveys.
    errors
        "reject" or "raise": what to do with a row that cannot be read. "reject" leaves it out
        of the answers and says why in the report: a figure that is not a non-negative number, a
        sub-category above its category, a missing or duplicate respondent id, an unknown SU
        answer. "raise" raises :class:`~qet_geo.errors.ValidationError` instead, and also when
        the file has neither the total nor at least four of the five categories; a sub-category
        above its category is then only warned about and its row kept. Blank rows are left out
        either way.

    Returns
    -------
    SurveyRead
        ``answers`` indexed by ``respondent_id`` with a ``Float64`` column in kgCO2e/yr for each
        NGC column the file has (missing ones are absent), plus SU usages and socio-demographic
        columns when present. A missing figure makes its row partial. ``coding`` says the unit
        found: ``kgco2e``, ``tco2e`` or ``mixed`` (per header).

    Raises
    ------
    InputFileError, EmptyDataError, ValidationError
        As for :func:`read_su`; ValidationError when no NGC column is recognised, when
        ``id_column`` is not a header, and, with ``errors="raise"``, as said above.

    Warns
    -----
    QetGeoWarning
        Rows were rejected or are partial, columns were ignored, there is no respondent id
        column, totals differ from the sum of their five categories by more than 2 %, or a
        sub-category is larger than its category.
    """
    sep = check_table_options(sep=sep, encoding=encoding, sheet=sheet)
    check_columns(columns)
    if unit not in (None, "kg", "t"):
        raise ValidationError(
            msg("unit doit valoir 'kg', 't' ou None (détection), pas {unit!r}.", unit=unit)
        )
    if id_column is not None and not isinstance(id_column, str):
        raise ValidationError(
            msg(
                "id_column doit être un en-tête du fichier, pas {id_column!r}.", id_column=id_column
            )
        )
    if errors not in ("reject", "raise"):
        raise ValidationError(
            msg(
                "errors doit valoir 'reject' (écarter les lignes illisibles) ou 'raise', pas "
                "{errors!r}.",
                errors=errors,
            )
        )
    table = load_table(path, sep=sep, encoding=encoding, sheet=sheet)
    forced = _with_id_column(table, columns, id_column)
    issues: list[QetGeoWarning] = []
    read = _read_ngc(table, columns=forced, unit=unit, strict=errors == "raise", issues=issues)
    for issue in issues:
        warnings.warn(issue, stacklevel=2)
    return read


def _with_id_column(
    table: Table, columns: Mapping[str, str] | None, id_column: str | None
) -> Mapping[str, str] | None:
    """Add ``id_column`` to the forced column mapping, once it is known to be a header."""
    if id_column is None:
        return columns
    if id_column not in table.header:
        shown = ", ".join(table.header)
        raise ValidationError(
            msg(
                "La colonne {id_column!r} n'est pas dans {source}. Colonnes : {shown}.",
                id_column=id_column,
                source=table.source,
                shown=shown,
            )
        )
    forced = dict(columns or {})
    if any((key == "respondent_id") != (name == id_column) for name, key in forced.items()):
        raise ValidationError(
            msg(
                "id_column={id_column!r} et columns={forced} désignent des colonnes "
                "d'identifiant différentes : donnez la colonne d'identifiant dans l'un des deux "
                "seulement.",
                id_column=id_column,
                forced=forced,
            )
        )
    forced[id_column] = "respondent_id"
    return forced


def _read_ngc(
    table: Table,
    *,
    columns: Mapping[str, str] | None,
    unit: Literal["kg", "t"] | None,
    strict: bool,
    issues: list[QetGeoWarning],
) -> SurveyRead:
    """Read NGC results; ``strict`` raises where rows would be rejected (``errors="raise"``)."""
    found = match_columns(table.header, survey_fields("ngc"), forced=columns, source=table.source)
    figures = {spec.key: i for i, spec in found.items() if spec.kind == "kgco2e"}
    if not figures:
        raise no_column_error(table, "ngc")
    if strict:
        _require_footprints(table, figures)
    n = len(table.rows)
    rows = RowIssues(n)
    ids = respondent_ids(table, found, rows, number_from_one=True)
    id_col = next((i for i, spec in found.items() if spec.key == "respondent_id"), None)
    if id_col is None:
        issues.append(
            QetGeoWarning(
                msg(
                    "{source} n'a pas de colonne d'identifiant des répondants : les lignes sont "
                    "numérotées à partir de 1, et les résultats ne peuvent pas être reliés aux "
                    "autres enquêtes ; passez id_column= si les identifiants sont sous un autre "
                    "en-tête.",
                    source=table.source,
                )
            )
        )
    elif strict:
        _raise_on_bad_ids(table, table.header[id_col], ids)
    data: dict[str, pd.Series] = {}
    bad: dict[int, list[str]] = {}
    for i, spec in found.items():
        if spec.kind == "level":
            data[spec.key] = parse_levels(table.column(i), spec.key, rows)
        elif spec.kind == "kgco2e":
            bad[i] = []
            data[spec.key] = _parse_numbers(table.column(i), spec, rows, bad=bad[i])
    if strict:
        _raise_on_bad_figures(table, bad)
    header_units = {
        key: split_unit(normalise_label(table.header[i]))[1] for key, i in figures.items()
    }
    coding = _ngc_units(data, unit=unit, header_units=header_units, table=table)
    _check_ngc_rows(data, rows, reject=not strict, source=table.source, issues=issues)
    person = parse_person(table, found, rows)
    if strict:
        _raise_on_rejected(table, ids, rows)
    order = [*NGC_COLUMNS, *USAGES]
    return assemble(
        table,
        kind="ngc",
        answers=pd.DataFrame({k: data[k] for k in order if k in data} | person),
        ids=ids,
        rows=rows,
        found=found,
        coding=coding,
        usages=tuple(u for u in USAGES if u in data),
        issues=issues,
        extra_notes=[],
    )


def _require_footprints(table: Table, figures: Mapping[str, int]) -> None:
    """Refuse a file that gives no footprint per respondent: no total and under 4 categories."""
    if "total" in figures or sum(1 for c in NGC_CATEGORIES if c in figures) >= 4:
        return
    shown = ", ".join(table.header)
    raise ValidationError(
        msg(
            "{source} n'a ni total ni les catégories NGC : colonnes attendues comme 'bilan' "
            "ou 'Empreinte totale', 'alimentation', 'transport', 'logement', 'divers', "
            "'services sociétaux'. Colonnes trouvées : {shown}.",
            source=table.source,
            shown=shown,
        )
    )


def _raise_on_bad_ids(table: Table, header: str, ids: list[str]) -> None:
    """Refuse missing or duplicate ids (blank rows aside)."""
    seen: set[str] = set()
    missing = 0
    dup: list[str] = []
    for i, rid in enumerate(ids):
        if not any(c.strip() for c in table.rows[i]):
            continue
        if not rid:
            missing += 1
        elif rid in seen:
            dup.append(rid)
        seen.add(rid)
    if not missing and not dup:
        return
    example = msg(" (par exemple {id!r})", id=dup[0]) if dup else ""
    raise ValidationError(
        msg(
            "La colonne {header!r} de {source} a des identifiants absents ou en "
            "double{example} : chaque répondant doit avoir un identifiant unique.",
            header=header,
            source=table.source,
            example=example,
        )
    )


def _raise_on_bad_figures(table: Table, bad: Mapping[int, list[str]]) -> None:
    """Refuse the first column, in file order, holding figures that are not non-negative."""
    for i, values in bad.items():
        if values:
            raise ValidationError(
                msg(
                    "La colonne {header!r} de {source} contient {n} valeurs qui ne sont pas des "
                    "nombres positifs ou nuls (par exemple {example!r}) : corrigez-les, ou videz "
                    "les cellules dont la valeur est inconnue.",
                    header=table.header[i],
                    source=table.source,
                    n=len(values),
                    example=values[0],
                )
            )


def _raise_on_rejected(table: Table, ids: list[str], rows: RowIssues) -> None:
    """Refuse the first row that would be rejected (blank rows aside)."""
    for i, items in enumerate(rows.items):
        rejected = [text for severity, text in items if severity == "rejected"]
        if rejected and any(c.strip() for c in table.rows[i]):
            raise ValidationError(
                msg(
                    "{source}, ligne {row} (répondant {id!r}) illisible : {reasons}. Corrigez la "
                    "ligne, ou lisez le fichier avec qet_geo.surveys.ngc.read_ngc, qui écarte ces "
                    "lignes et les signale.",
                    source=table.source,
                    row=i + 2,
                    id=ids[i],
                    reasons=join(rejected, msg(" ; ")),
                )
            )


def _parse_numbers(
    values: list[str], spec: Field, rows: RowIssues, *, bad: list[str] | None = None
) -> pd.Series:
    """Read figures; those that are not non-negative numbers are also appended to ``bad``."""
    out: list[Any] = []
    for i, raw in enumerate(values):
        if is_missing(normalise_label(raw)):
            out.append(pd.NA)
            rows.add(i, "partial", msg("pas de valeur pour {key}", key=spec.key))
            continue
        value = parse_number(raw)
        if value is None or not math.isfinite(value):
            out.append(pd.NA)
            rows.add(i, "rejected", msg("{key} {raw!r} n'est pas un nombre", key=spec.key, raw=raw))
            if bad is not None:
                bad.append(raw)
            continue
        if value < 0:
            out.append(pd.NA)
            rows.add(i, "rejected", msg("{key} {raw!r} est négatif", key=spec.key, raw=raw))
            if bad is not None:
                bad.append(raw)
            continue
        out.append(value)
    return pd.Series(out, dtype="Float64")


def _ngc_units(
    data: dict[str, pd.Series],
    *,
    unit: Literal["kg", "t"] | None,
    header_units: Mapping[str, Literal["kg", "t"] | None],
    table: Table,
) -> str:
    """Convert the figures to kgCO2e in place; return the coding: kgco2e, tco2e or mixed."""
    keys = [k for k in NGC_COLUMNS if k in data]
    units: dict[str, Literal["kg", "t"]]
    if unit is not None:
        units = dict.fromkeys(keys, unit)
    elif any(header_units.get(k) for k in keys):
        units = {k: header_units.get(k) or "kg" for k in keys}
        table.notes.append(
            msg("unités lues dans les en-têtes (kilogrammes là où un en-tête n'en donne pas)")
        )
    else:
        if "total" in data:
            reference = data["total"]
        else:
            cats = [data[k] for k in NGC_CATEGORIES if k in data]
            reference = pd.concat(cats, axis=1).sum(axis=1, min_count=1) if cats else data[keys[0]]
        median = reference.dropna().median()
        detected: Literal["kg", "t"] = "t" if pd.notna(median) and float(median) < 100 else "kg"
        if detected == "t":
            table.notes.append(
                msg("valeurs lues en tonnes CO2e (total médian sous 100), converties en kg")
            )
        units = dict.fromkeys(keys, detected)
    for key in keys:
        if units[key] == "t":
            data[key] = data[key] * 1000.0
    found = set(units.values())
    if len(found) > 1:
        return "mixed"
    return "tco2e" if found == {"t"} else "kgco2e"


def _check_ngc_rows(
    data: Mapping[str, pd.Series],
    rows: RowIssues,
    *,
    reject: bool,
    source: SourceName,
    issues: list[QetGeoWarning],
) -> None:
    """Flag sub-categories above their category (rejected if ``reject``) and totals off by 2 %."""
    tolerance = 1.0 + 1e-3
    for sub, parent in NGC_SUBCATEGORIES.items():
        if sub not in data or parent not in data:
            continue
        over = (data[sub] > data[parent] * tolerance + 1.0).fillna(False)
        for i in over[over].index:
            rows.add(
                int(i),
                "rejected" if reject else "note",
                msg(
                    "{sub} ({sub_kg:.0f}) dépasse {parent} ({parent_kg:.0f})",
                    sub=sub,
                    sub_kg=data[sub].iloc[int(i)],
                    parent=parent,
                    parent_kg=data[parent].iloc[int(i)],
                ),
            )
        count = int(over.sum())
        if count:
            issues.append(
                QetGeoWarning(
                    msg(
                        "{count} ligne(s) de {source} ont {sub} supérieur à {parent} : vérifiez "
                        "les colonnes et leurs unités{outcome}",
                        count=count,
                        source=source,
                        sub=sub,
                        parent=parent,
                        outcome=msg("; ces lignes sont rejetées.")
                        if reject
                        else msg("; ces lignes sont gardées."),
                    )
                )
            )
    cats = [k for k in NGC_CATEGORIES if k in data]
    if "total" in data and len(cats) == len(NGC_CATEGORIES):
        total = pd.concat([data[k] for k in cats], axis=1).sum(axis=1, min_count=len(cats))
        off = ((total - data["total"]).abs() > 0.02 * data["total"] + 1.0).fillna(False)
        for i in off[off].index:
            rows.add(
                int(i),
                "note",
                msg(
                    "les catégories totalisent {sum_kg:.0f}, pas le total {total_kg:.0f}",
                    sum_kg=total.iloc[int(i)],
                    total_kg=data["total"].iloc[int(i)],
                ),
            )
        count = int(off.sum())
        if count:
            issues.append(
                QetGeoWarning(
                    msg(
                        "{count} totaux de {source} diffèrent de plus de 2 % de la somme de leurs "
                        "cinq catégories : vérifiez les colonnes et leurs unités.",
                        count=count,
                        source=source,
                    )
                )
            )
