"""What every survey reader returns: the answers and the validation report of every row.

Every reader (:func:`~qet_geo.surveys.su.read_su`, :func:`~qet_geo.surveys.mdv.read_mdv`,
:func:`~qet_geo.surveys.ngc.read_ngc`) returns a :class:`SurveyRead`: the answers in the canonical
frame of :mod:`qet_geo.surveys.schema` and a report with one line per row of the file. Nothing is
dropped silently: a row is *accepted*, *partial* (kept, with ``<NA>`` where an answer is missing
or unusable) or *rejected* (left out of the answers: an unknown answer, a duplicate or missing
respondent id, a blank row), and the report says why in English and French. ``row`` in the report
is the row number as a spreadsheet shows it (the header is row 1).

Incomplete rows
---------------
A row with some answers missing is kept (status ``partial``) with ``<NA>`` for those answers: its
other answers still count (quotas, per-question shares). Profiles need every usage, so they use
:meth:`SurveyRead.complete_rows`. On NEAR's ``survey_0.tsv`` (314 rows) that gives 313 rows: row
82 (respondent 84) did not answer the flight question.

Locations
---------
Location columns (longitude/latitude, a 200 m cell id, an IRIS code, an address, the home's OSM
``building_key``) are personal data. They are never put in the answers: they are kept apart in
:attr:`SurveyRead.locations` for :func:`qet_geo.surveys.geocode.locate_homes`, then
:func:`qet_geo.privacy.coarsen_locations`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.i18n import Msg, msg
from qet_geo.surveys._headers import Field
from qet_geo.surveys.schema import normalise_label
from qet_geo.surveys.tables import MISSING, Table

__all__ = ["REPORT_COLUMNS", "STATUSES", "SurveyRead"]

logger = logging.getLogger(__name__)

SurveyKind = Literal["su", "mdv", "ngc"]


#: Row statuses of the validation report.
STATUSES: tuple[str, ...] = ("accepted", "partial", "rejected")

#: Columns of the validation report.
REPORT_COLUMNS: tuple[str, ...] = ("row", "respondent_id", "status", "reason_en", "reason_fr")


@dataclass(frozen=True)
class SurveyRead:
    """Answers read from a survey file and the validation report of every row.

    Attributes
    ----------
    answers
        The canonical answer frame (see :mod:`qet_geo.surveys.schema`), indexed by
        ``respondent_id``: accepted and partial rows, in file order.
    report
        One line per row of the file: ``row`` (spreadsheet row number, header = 1),
        ``respondent_id``, ``status`` (accepted, partial, rejected), ``reason_en``, ``reason_fr``
        (empty when there is nothing to say).
    kind
        su, mdv or ngc.
    source
        The file read.
    encoding
        The text encoding used (``None`` for XLSX).
    sep
        The separator used (``None`` for XLSX).
    coding
        How answers were read: ``labels``, ``codes 1-3`` or ``codes 0-2`` (SU), ``labels`` (MdV),
        ``kgco2e``, ``tco2e`` or ``mixed`` (NGC, as found in the file, ``mixed`` when headers
        state different units; the answers are always kgCO2e).
    columns
        File header → canonical field, for every column read.
    ignored_columns
        Headers of the columns not read.
    usages
        The SU usages the file has a column for (the others are all ``<NA>``).
    locations
        Location columns (``lon``, ``lat``, ``cell_id``, ``iris_code``, ``address``...) as text,
        indexed like ``answers``; empty when the file has none. Personal data: geocode it, then
        coarsen it with :func:`qet_geo.privacy.coarsen_locations`; never publish it.
    notes
        Notes on what was detected (encoding, separator, coding, columns), each rendered in the
        reader's language (``note.render("en")``).
    """

    answers: pd.DataFrame
    report: pd.DataFrame
    kind: str
    source: str
    encoding: str | None
    sep: str | None
    coding: str
    columns: Mapping[str, str]
    ignored_columns: tuple[str, ...]
    usages: tuple[str, ...]
    locations: pd.DataFrame = field(repr=False)
    notes: tuple[Msg, ...] = ()

    def complete_rows(self, usages: Sequence[str] | None = None) -> pd.DataFrame:
        """Return the answers that have a level for every usage (what profiles need).

        Parameters
        ----------
        usages
            Usages that must be answered; by default those the file has a column for
            (:attr:`usages`), e.g. the six of :data:`~schema.USAGES`.

        Returns
        -------
        pandas.DataFrame
            The rows of :attr:`answers` with no ``<NA>`` among ``usages``.
        """
        wanted = list(self.usages if usages is None else usages)
        unknown = [u for u in wanted if u not in self.answers.columns]
        if unknown:
            raise ValidationError(
                msg(
                    "les usages {unknown} ne sont pas des colonnes des réponses ; utilisez les "
                    "clés de USAGES.",
                    unknown=unknown,
                )
            )
        if not wanted:
            return self.answers.iloc[0:0]
        return self.answers[self.answers[wanted].notna().all(axis=1)]

    def summary(self) -> dict[str, int]:
        """Count the rows read and each status: ``{"rows": n, "accepted": a, ...}``."""
        counts = self.report["status"].value_counts()
        out = {"rows": len(self.report)}
        out.update({s: int(counts.get(s, 0)) for s in STATUSES})
        out["complete"] = len(self.complete_rows()) if self.kind == "su" else len(self.answers)
        return out


@dataclass
class RowIssues:
    """Per-row messages: severity (rejected, partial, note) and text."""

    n: int
    items: list[list[tuple[str, Msg]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.items = [[] for _ in range(self.n)]

    def add(self, i: int, severity: str, text: Msg) -> None:
        self.items[i].append((severity, text))

    def reasons(self, lang: str) -> list[str]:
        """The messages of each row, joined by "; ", in ``lang``."""
        return ["; ".join(m.render(lang) for _, m in items) for items in self.items]

    def status(self, i: int) -> str:
        severities = {s for s, _ in self.items[i]}
        if "rejected" in severities:
            return "rejected"
        if "partial" in severities:
            return "partial"
        return "accepted"


def respondent_ids(
    table: Table, found: Mapping[int, Field], rows: RowIssues, *, number_from_one: bool = False
) -> list[str]:
    """Respondent ids from the id column, else the row numbers; blanks and duplicates rejected.

    With ``number_from_one`` and no id column, respondents are numbered 1, 2, ... in file order
    instead, blank rows rejected and left out of the count.
    """
    id_col = next((i for i, spec in found.items() if spec.key == "respondent_id"), None)
    numbers = [str(i + 2) for i in range(len(table.rows))]
    if id_col is None and number_from_one:
        ids: list[str] = []
        count = 0
        for i in range(len(table.rows)):
            if not any(c.strip() for c in table.rows[i]):
                rows.add(i, "rejected", msg("ligne vide"))
                ids.append("")
                continue
            _check_width(table, i, rows)
            count += 1
            ids.append(str(count))
        table.notes.append(
            msg(
                "pas de colonne d'identifiant : les répondants sont numérotés à partir de 1 dans "
                "l'ordre du fichier"
            )
        )
        return ids
    if id_col is None:
        for i in range(len(table.rows)):
            if any(c.strip() for c in table.rows[i]):
                _check_width(table, i, rows)
        table.notes.append(
            msg("pas de colonne d'identifiant : les numéros de ligne servent d'identifiants")
        )
        return numbers
    ids = [_id_text(v) for v in table.column(id_col)]
    first_seen: dict[str, int] = {}
    for i, rid in enumerate(ids):
        if not any(c.strip() for c in table.rows[i]):
            rows.add(i, "rejected", msg("ligne vide"))
            ids[i] = ""
            continue
        _check_width(table, i, rows)
        if not rid:
            rows.add(i, "rejected", msg("pas d'identifiant de répondant : renseignez-le"))
            continue
        if rid in first_seen:
            rows.add(
                i,
                "rejected",
                msg(
                    "identifiant {rid!r} déjà présent ligne {row}",
                    rid=rid,
                    row=first_seen[rid] + 2,
                ),
            )
            continue
        first_seen[rid] = i
    return ids


def _check_width(table: Table, i: int, rows: RowIssues) -> None:
    """Reject a row with values beyond the header: its answers are probably shifted."""
    extra = table.rows[i][len(table.header) :]
    if any(c.strip() for c in extra):
        width = len(table.header) + max(k + 1 for k, c in enumerate(extra) if c.strip())
        rows.add(
            i,
            "rejected",
            msg(
                "{width} valeurs pour {n_header} colonnes d'en-tête : un séparateur dans "
                "une réponse ? Mettez ces réponses entre guillemets ou changez de séparateur",
                width=width,
                n_header=len(table.header),
            ),
        )


def _id_text(value: str) -> str:
    value = value.strip()
    if re.fullmatch(r"\d+\.0+", value):
        return value.split(".")[0]
    return value


#: The note on how answers were read, per coding.
_CODING_NOTES: Mapping[str, Msg] = {
    "labels": msg("réponses lues comme libellés"),
    "codes 1-3": msg("réponses lues comme codes 1/2/3"),
    "codes 0-2": msg("réponses lues comme codes 0/1/2"),
    "kgco2e": msg("valeurs en kgCO2e/an"),
    "tco2e": msg("valeurs en tCO2e/an"),
    "mixed": msg("valeurs en kgCO2e/an ou tCO2e/an, selon chaque en-tête"),
}


def assemble(
    table: Table,
    *,
    kind: SurveyKind,
    answers: pd.DataFrame,
    ids: list[str],
    rows: RowIssues,
    found: Mapping[int, Field],
    coding: str,
    usages: tuple[str, ...],
    issues: list[QetGeoWarning],
    extra_notes: list[Msg],
) -> SurveyRead:
    n = len(table.rows)
    statuses = [rows.status(i) for i in range(n)]
    report = pd.DataFrame(
        {
            "row": pd.array([i + 2 for i in range(n)], dtype="Int64"),
            "respondent_id": pd.array(ids, dtype="string"),
            "status": pd.array(statuses, dtype="string"),
            "reason_en": pd.array(rows.reasons("en"), dtype="string"),
            "reason_fr": pd.array(rows.reasons("fr"), dtype="string"),
        }
    )
    keep = [s != "rejected" for s in statuses]
    index = pd.Index([ids[i] for i in range(n) if keep[i]], name="respondent_id", dtype="str")
    answers = answers.loc[keep].copy()
    answers.index = index
    location_cols = {spec.key: i for i, spec in found.items() if spec.kind == "location"}
    locations = pd.DataFrame(
        {key: pd.array(table.column(i), dtype="string") for key, i in location_cols.items()}
    )
    if location_cols:
        locations = locations.loc[keep].copy()
        locations = locations.mask(locations.map(lambda v: normalise_label(str(v)) in MISSING))
    else:
        locations = pd.DataFrame(index=range(len(index)))
    locations.index = index
    column_map = {table.header[i] or f"column {i + 1}": spec.key for i, spec in found.items()}
    ignored = tuple(
        h or f"column {i + 1}"
        for i, h in enumerate(table.header)
        if i not in found and any(i < len(r) and r[i] for r in table.rows)
    )
    notes = [*table.notes]
    notes.append(_CODING_NOTES[coding])
    notes += extra_notes
    _warn_rows(table, statuses, tuple(h for h in ignored if not _form_tool_column(h)), issues)
    logger.info(
        "%s: %d rows, %d accepted, %d partial, %d rejected",
        table.source,
        n,
        statuses.count("accepted"),
        statuses.count("partial"),
        statuses.count("rejected"),
    )
    return SurveyRead(
        answers=answers,
        report=report,
        kind=kind,
        source=table.source.render("en") if isinstance(table.source, Msg) else table.source,
        encoding=table.encoding,
        sep=table.sep,
        coding=coding,
        columns=column_map,
        ignored_columns=ignored,
        usages=usages,
        locations=locations,
        notes=tuple(notes),
    )


#: Columns that form tools (KoboToolbox, ODK Central) add to every export, and the raw point of
#: the kit's forms (:mod:`qet_geo.surveys.forms`: its latitude and longitude columns are read):
#: not read, and not worth a warning.
_FORM_TOOL_COLUMNS = frozenset(
    {
        "start",
        "end",
        "today",
        "deviceid",
        "submissiondate",
        "submitterid",
        "submittername",
        "key",
        "meta-instanceid",
        "meta/instanceid",
        "instanceid",
        "attachmentspresent",
        "attachmentsexpected",
        "reviewstate",
        "edits",
        "formversion",
        "status",
        "home_point",
    }
)


def _form_tool_column(header: str) -> bool:
    """Whether ``header`` is a form tool's own column (all of KoboToolbox's start with "_")."""
    name = header.strip().casefold()
    return name.startswith("_") or name in _FORM_TOOL_COLUMNS


def _warn_rows(
    table: Table, statuses: list[str], ignored: tuple[str, ...], issues: list[QetGeoWarning]
) -> None:
    rejected, partial = statuses.count("rejected"), statuses.count("partial")
    if rejected or partial:
        issues.append(
            QetGeoWarning(
                msg(
                    "{source} : {rejected} ligne(s) rejetée(s) et {partial} partielle(s) sur "
                    "{n} ; le rapport (SurveyRead.report ou « qet survey check ») donne "
                    "la raison de chacune : corrigez le fichier.",
                    source=table.source,
                    rejected=rejected,
                    partial=partial,
                    n=len(statuses),
                )
            )
        )
    if not statuses or statuses.count("rejected") == len(statuses):
        issues.append(
            QetGeoWarning(
                msg(
                    "{source} : aucune ligne n'a pu être lue ; voyez le rapport.",
                    source=table.source,
                )
            )
        )
    if ignored:
        issues.append(
            QetGeoWarning(
                msg(
                    "{source} : les colonnes {ignored} ne sont pas reconnues et sont ignorées ; "
                    "renommez-les ou passez columns={{en-tête: clé}} pour les lire.",
                    source=table.source,
                    ignored=list(ignored),
                )
            )
        )
