"""Read survey answer files: SU (usage profiles), MdV/EdV (ways of life) and NGC footprints.

Every reader takes a CSV, TSV or XLSX file as the survey tools export it and returns a
:class:`SurveyRead`: the answers in the canonical frame of :mod:`qet_geo.surveys.schema` and a
validation report with one line per row of the file. Nothing is dropped silently: a row is
*accepted*, *partial* (kept, with ``<NA>`` where an answer is missing or unusable) or *rejected*
(left out of the answers: an unknown answer, a duplicate or missing respondent id), and the report
says why in English and French.

How a file is read
------------------
- **Format**: XLSX is recognised by its content (a zip workbook), whatever its extension; anything
  else must be text: UTF-8 (with or without BOM), UTF-16 with BOM, else cp1252 (Windows Excel),
  else latin-1. ``encoding=`` overrides the guess.
- **Separator**: tab, ``;``, ``,`` or ``|``, the one that splits the first lines into the same,
  largest number of fields. ``sep=`` overrides the guess.
- **Columns** are recognised by their header, compared after :func:`~schema.normalise_label`
  (accents, case, apostrophes, trailing punctuation): first the canonical keys
  (``meat_frequency``) and synonyms (NEAR's database names, "viande", "avion"...), then the NEAR
  question titles, even truncated or slightly altered (a header that is a prefix of the title of
  at least 12 characters, or within 90 % similarity), then for a few fields a keyword in the header
  ("Tranche d'âge" → ``age_band``). ``columns={header: key}`` forces a mapping; two columns
  recognised as the same field raise an error naming both.
- **Answers** are matched the same way against the labels of the schema (French as exported by
  NEAR, English, NEAR's enum names and synonyms): exact after normalisation; then *prefix* (a
  truncated label of at least 4 characters that starts exactly one known label, or a known label
  followed by more words); then *fuzzy* (rapidfuzz ratio of at least 88 with a margin of 5 points
  over any other answer). NEAR's export truncates labels at the comma ("Mobilités actives (vélo,
  marche", "électricité, réseau de chaleur,"): normalisation alone reads those. Fuzzy matches are
  noted in the report.
- **Numeric codes**: SU files may hold codes instead of labels. With ``codes=None`` the file is
  read as codes when every answer of every usage column is a whole number, as 1/2/3 when a 3
  appears (or neither a 0 nor a 3: 1-based is then assumed and noted), as 0/1/2 when a 0 appears;
  :attr:`SurveyRead.coding` says which. ``codes=True`` / ``False`` and ``code_base=0`` / ``1``
  force it.
- **Rows**: ``row`` in the report is the row number as a spreadsheet shows it (the header is row
  1). Blank rows at the end of a file are not rows; other blank rows are rejected.
- **Limits** (:data:`LIMITS`, a :class:`ReadLimits`): a file is refused, before it is parsed when
  it can be, when it is larger than 100 MB, when an XLSX workbook unzips to more than 50 MB, has an
  entry inflating more than 100 times (a zip bomb: 4 MB that unzip to 4 GB) or more than 1 000
  entries, and while it is read when it has more than 200 000 rows, 1 000 columns, 20 million
  cells (empty ones included) or a cell of more than 10 000 characters. Survey exports are far
  below; a hostile file then costs seconds and megabytes, not minutes and gigabytes.

Incomplete rows
---------------
A row with some answers missing is kept (status ``partial``) with ``<NA>`` for those answers: its
other answers still count (quotas, per-question shares). Profiles need every usage, so they use
:meth:`SurveyRead.complete_rows`. On NEAR's ``survey_0.tsv`` (314 rows) that gives 313 rows: row
82 (respondent 84) did not answer the flight question.

Locations
---------
Location columns (longitude/latitude, a 200 m cell id, an IRIS code, an address) are personal
data. They are never put in the answers: they are kept apart in :attr:`SurveyRead.locations` for
:func:`qet_geo.surveys.geocode.locate_homes`, then :func:`qet_geo.privacy.coarsen_locations`.

NGC results
-----------
:func:`read_ngc` is the one reader of NosGestesClimat results: NGC's rule names, the French titles
of its results ("Empreinte totale (t)") and NEAR's names, each column in the unit its header
states, else detected. It flags sub-categories above their category and totals more than 2 % off
the sum of the categories, and numbers respondents from 1, with a warning, when there is no id
column. With ``errors="raise"`` a row that cannot be read raises instead of being rejected: that
is how :func:`qet_geo.analysis.footprint.read_ngc_results` reads, and returns the figures as a frame.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import math
import re
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import IO, Any, Literal

import pandas as pd

from qet_geo._validate import existing_file
from qet_geo.errors import EmptyDataError, InputFileError, QetGeoWarning, ValidationError
from qet_geo.surveys.schema import (
    AGE_BANDS,
    CHANGE_REASON_SYNONYMS,
    CHANGE_REASONS,
    CHANGE_TOPIC_WORDS,
    CHANGE_TOPICS,
    CSP_LABELS,
    CSP_SYNONYMS,
    GENDER_SYNONYMS,
    GENDERS,
    LEVEL_LABELS,
    LEVEL_SYNONYMS,
    LOCATION_COLUMN_SYNONYMS,
    LOCATION_COLUMNS,
    MDV_COLUMN_SYNONYMS,
    MDV_EASE,
    MDV_SATISFACTION,
    NGC_CATEGORIES,
    NGC_COLUMN_SYNONYMS,
    NGC_COLUMN_TITLES,
    NGC_COLUMNS,
    NGC_ID_SYNONYMS,
    NGC_SUBCATEGORIES,
    QUESTIONS,
    RESPONDENT_COLUMN_SYNONYMS,
    TIME_BAND_LABELS,
    TIME_BAND_SYNONYMS,
    TIME_BANDS,
    TRAVEL_MODE_LABELS,
    TRAVEL_MODE_SYNONYMS,
    TRAVEL_MODES,
    TRIP_PURPOSE_WORDS,
    TRIP_PURPOSES,
    USAGE_COLUMN_KEYWORDS,
    USAGE_COLUMN_SYNONYMS,
    USAGE_LABELS,
    USAGES,
    WILLINGNESS,
    WILLINGNESS_LABELS,
    WILLINGNESS_SYNONYMS,
    YES_NO,
    YES_NO_LABELS,
    YES_NO_SYNONYMS,
    normalise_label,
)

__all__ = [
    "LIMITS",
    "REPORT_COLUMNS",
    "STATUSES",
    "ReadLimits",
    "SurveyRead",
    "read_mdv",
    "read_ngc",
    "read_su",
]

logger = logging.getLogger(__name__)

PathType = str | PathLike[str]
Source = PathType | IO[bytes]
SurveyKind = Literal["su", "mdv", "ngc"]

#: Row statuses of the validation report.
STATUSES: tuple[str, ...] = ("accepted", "partial", "rejected")

#: Columns of the validation report.
REPORT_COLUMNS: tuple[str, ...] = ("row", "respondent_id", "status", "reason_en", "reason_fr")


@dataclass(frozen=True)
class ReadLimits:
    """The most a survey file may hold: past any of them it is refused with a clear message.

    Attributes
    ----------
    max_file_bytes
        Size of the file.
    max_unzipped_bytes
        Size of an XLSX workbook's entries once unzipped, together (from the zip's directory,
        which the reader then holds to: an entry that inflates past its declared size is cut).
    max_zip_ratio
        Most an XLSX entry of more than 1 MB may inflate (unzipped over zipped size).
    max_zip_entries
        Entries of an XLSX workbook.
    max_rows
        Rows of the table, header excluded.
    max_columns
        Columns of a row, trailing empty cells excluded.
    max_cells
        Cells read from an XLSX sheet, empty ones included (a sheet's gaps are filled).
    max_cell_chars
        Characters of one cell.
    """

    max_file_bytes: int = 100_000_000
    max_unzipped_bytes: int = 50_000_000
    max_zip_ratio: float = 100.0
    max_zip_entries: int = 1_000
    max_rows: int = 200_000
    max_columns: int = 1_000
    max_cells: int = 20_000_000
    max_cell_chars: int = 10_000


#: The limits every reader applies; replace it (``dataclasses.replace``) to change them.
LIMITS = ReadLimits()
#: Entries smaller than this unzipped are not held to :attr:`ReadLimits.max_zip_ratio`.
_RATIO_FLOOR = 1_000_000

_SEPARATORS = ("\t", ";", ",", "|")
_SEP_NAMES = {"\t": "tab", ";": ";", ",": ",", "|": "|"}
_SEP_ALIASES = {"tab": "\t", "\\t": "\t", "tabulation": "\t", "semicolon": ";", "comma": ","}
_MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "nr", "sans reponse"})
_WORDS = re.compile(r"[^0-9a-z+<>]+")
_INTEGER = re.compile(r"^[+-]?\d+(?:\.0+)?$")
_MAGIC = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"\xd0\xcf\x11\xe0": "a legacy Excel (.xls) or Word file",
}
_MAGIC_FR = {
    b"%PDF": "un document PDF",
    b"\x89PNG": "une image PNG",
    b"\xff\xd8\xff": "une image JPEG",
    b"GIF8": "une image GIF",
    b"\x1f\x8b": "une archive gzip",
    b"\xd0\xcf\x11\xe0": "un ancien fichier Excel (.xls) ou Word",
}
# A unit at the end of an NGC header: "Avion (t)", "Empreinte totale en kg CO2e / an", "[tCO2e]".
_UNIT_SUFFIX = re.compile(
    r"(?:\s+|\s*[\(\[]\s*)(?:en\s+)?"
    r"(?P<unit>kg\s*co2\s*e?|kgco2e?|t\s*co2\s*e?|tco2e?|tonnes?|kg|t)"
    r"(?:\s*(?:/|par)\s*(?:an|year|yr))?\s*[\)\]]?$"
)
_FUZZY_CUTOFF = 88.0
_FUZZY_MARGIN = 5.0
_TITLE_PREFIX_MIN = 12
_TITLE_FUZZY = 90.0


# --------------------------------------------------------------------------------------------------
# result


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
        ``(english, french)`` notes on what was detected (encoding, separator, coding, columns).
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
    notes: tuple[tuple[str, str], ...] = ()

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
                f"usages {unknown} are not columns of the answers; use keys of USAGES.",
                message_fr=f"les usages {unknown} ne sont pas des colonnes des réponses ; "
                "utilisez les clés de USAGES.",
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


# --------------------------------------------------------------------------------------------------
# public readers


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
    options = _check_options(sep=sep, encoding=encoding, sheet=sheet, columns=columns)
    if codes is not None and not isinstance(codes, bool):
        raise ValidationError(
            f"codes must be None, True or False, not {codes!r}.",
            message_fr=f"codes doit valoir None, True ou False, pas {codes!r}.",
        )
    if code_base is not None and code_base not in (0, 1):
        raise ValidationError(
            f"code_base must be 0 (codes 0/1/2) or 1 (codes 1/2/3), not {code_base!r}.",
            message_fr=f"code_base doit valoir 0 (codes 0/1/2) ou 1 (codes 1/2/3), "
            f"pas {code_base!r}.",
        )
    table = _load_table(path, sep=options.sep, encoding=encoding, sheet=sheet)
    issues: list[QetGeoWarning] = []
    read = _read_su(table, columns=columns, codes=codes, code_base=code_base, issues=issues)
    for issue in issues:
        warnings.warn(issue, stacklevel=2)
    return read


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
    options = _check_options(sep=sep, encoding=encoding, sheet=sheet, columns=columns)
    table = _load_table(path, sep=options.sep, encoding=encoding, sheet=sheet)
    issues: list[QetGeoWarning] = []
    read = _read_mdv(table, columns=columns, issues=issues)
    for issue in issues:
        warnings.warn(issue, stacklevel=2)
    return read


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
    options = _check_options(sep=sep, encoding=encoding, sheet=sheet, columns=columns)
    if unit not in (None, "kg", "t"):
        raise ValidationError(
            f"unit must be 'kg', 't' or None (detect), not {unit!r}.",
            message_fr=f"unit doit valoir 'kg', 't' ou None (détection), pas {unit!r}.",
        )
    if id_column is not None and not isinstance(id_column, str):
        raise ValidationError(
            f"id_column must be a header of the file, not {id_column!r}.",
            message_fr=f"id_column doit être un en-tête du fichier, pas {id_column!r}.",
        )
    if errors not in ("reject", "raise"):
        raise ValidationError(
            f"errors must be 'reject' (leave unreadable rows out) or 'raise', not {errors!r}.",
            message_fr=f"errors doit valoir 'reject' (écarter les lignes illisibles) ou 'raise', "
            f"pas {errors!r}.",
        )
    table = _load_table(path, sep=options.sep, encoding=encoding, sheet=sheet)
    forced = _with_id_column(table, columns, id_column)
    issues: list[QetGeoWarning] = []
    read = _read_ngc(table, columns=forced, unit=unit, strict=errors == "raise", issues=issues)
    for issue in issues:
        warnings.warn(issue, stacklevel=2)
    return read


# --------------------------------------------------------------------------------------------------
# options


@dataclass(frozen=True)
class _Options:
    sep: str | None


def _check_options(
    *,
    sep: str | None,
    encoding: str | None,
    sheet: str | int | None,
    columns: Mapping[str, str] | None,
) -> _Options:
    if sep is not None:
        if not isinstance(sep, str):
            raise ValidationError(
                f"sep must be a string such as ';', not {sep!r}.",
                message_fr=f"sep doit être un texte comme ';', pas {sep!r}.",
            )
        sep = _SEP_ALIASES.get(sep.lower(), sep)
        if sep not in _SEPARATORS:
            raise ValidationError(
                f"sep {sep!r} is not supported: use tab, ';', ',' or '|' (or leave it out to "
                "detect it).",
                message_fr=f"séparateur {sep!r} non pris en charge : utilisez tab, ';', ',' ou "
                "'|' (ou laissez-le détecter).",
            )
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except (LookupError, TypeError) as exc:
            raise ValidationError(
                f"encoding {encoding!r} is unknown: use e.g. 'utf-8', 'cp1252' or 'latin-1' "
                "(or leave it out to detect it).",
                message_fr=f"encodage {encoding!r} inconnu : utilisez par exemple 'utf-8', "
                "'cp1252' ou 'latin-1' (ou laissez-le détecter).",
            ) from exc
    if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, str | int)):
        raise ValidationError(
            f"sheet must be a sheet name or a 0-based position, not {sheet!r}.",
            message_fr=f"sheet doit être un nom de feuille ou une position (à partir de 0), "
            f"pas {sheet!r}.",
        )
    if columns is not None and (
        not isinstance(columns, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in columns.items())
    ):
        raise ValidationError(
            "columns must map file headers to field keys, e.g. {'Viande': 'meat_frequency'}.",
            message_fr="columns doit associer des en-têtes du fichier à des clés de champ, par "
            "exemple {'Viande': 'meat_frequency'}.",
        )
    return _Options(sep=sep)


# --------------------------------------------------------------------------------------------------
# loading a table


class _Name(str):
    """How messages name the file read: the English text, with its French text as ``fr``.

    A path names itself in both languages; a file object without a name is "the uploaded
    file" / "le fichier envoyé", so that each message stays in one language.
    """

    fr: str

    def __new__(cls, en: str, fr: str | None = None) -> _Name:
        name = super().__new__(cls, en)
        name.fr = en if fr is None else fr
        return name


@dataclass
class _Table:
    source: _Name
    header: list[str]
    rows: list[list[str]]
    encoding: str | None
    sep: str | None
    notes: list[tuple[str, str]]


def _load_table(
    path: Source, *, sep: str | None, encoding: str | None, sheet: str | int | None
) -> _Table:
    """Read a file into a header and rows of text cells (no interpretation yet)."""
    data, source, file = _read_bytes(path)
    if not data.removeprefix(codecs.BOM_UTF8).strip(b" \t\r\n\x00"):
        raise EmptyDataError(
            f"{source} is empty: export the survey answers again (CSV, TSV or XLSX with a "
            "header row).",
            message_fr=f"{source.fr} est vide : exportez à nouveau les réponses (CSV, TSV ou XLSX "
            "avec une ligne d'en-tête).",
            path=file,
        )
    if data[:4] == b"PK\x03\x04":
        cells = _xlsx_cells(data, source=source, file=file, sheet=sheet)
        enc: str | None = None
        used_sep: str | None = None
    else:
        text, enc = _decode(data, source=source, file=file, encoding=encoding)
        used_sep = sep or _guess_sep(text)
        cells = _csv_cells(text, used_sep, source=source, file=file)
    table = _Table(source, [], [], enc, used_sep, [])
    while cells and not any(cells[0]):
        cells.pop(0)
    if not cells:
        raise EmptyDataError(
            f"{source} holds no table: export the survey answers with a header row.",
            message_fr=f"{source.fr} ne contient pas de tableau : exportez les réponses avec une "
            "ligne d'en-tête.",
            path=file,
        )
    header = [h.strip() for h in cells[0]]
    rows = cells[1:]
    trailing = 0
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
        trailing += 1
    if trailing:
        table.notes.append(
            (
                f"{trailing} blank line(s) at the end of the file ignored",
                f"{trailing} ligne(s) vide(s) en fin de fichier ignorée(s)",
            )
        )
    if not rows:
        raise EmptyDataError(
            f"{source} has a header but no answer row: export the answers again, with their rows.",
            message_fr=f"{source.fr} a un en-tête mais aucune ligne de réponse : exportez à nouveau "
            "les réponses, avec leurs lignes.",
            path=file,
        )
    table.header = header
    table.rows = rows
    if enc is not None:
        table.notes.append((f"encoding {enc}", f"encodage {enc}"))
        table.notes.append(
            (
                f"separator {_SEP_NAMES[used_sep or ',']}",
                f"séparateur {_SEP_NAMES[used_sep or ',']}",
            )
        )
    else:
        table.notes.append(("XLSX workbook", "classeur XLSX"))
    logger.debug("read %d rows of %d columns from %s", len(rows), len(header), source)
    return table


def _read_bytes(path: Source) -> tuple[bytes, _Name, str | None]:
    limit = LIMITS.max_file_bytes
    if hasattr(path, "read"):
        raw = path.read(limit + 1)
        if not isinstance(raw, bytes):
            raise ValidationError(
                "a file object must be opened in binary mode ('rb').",
                message_fr="un objet fichier doit être ouvert en mode binaire ('rb').",
            )
        name = getattr(path, "name", None)
        source = (
            _Name("the uploaded file", "le fichier envoyé") if name is None else _Name(str(name))
        )
        if len(raw) > limit:
            raise _too_big(source, None, f"is larger than {limit} bytes", f"dépasse {limit} octets")
        return raw, source, None
    if not isinstance(path, str | PathLike):
        raise ValidationError(
            f"path must be a file path or a binary file object, not {type(path).__name__}.",
            message_fr=f"path doit être un chemin de fichier ou un objet fichier binaire, "
            f"pas {type(path).__name__}.",
        )
    file = Path(path)
    existing_file(file, what="Survey file", what_fr="Fichier d'enquête")
    if file.is_dir():
        raise InputFileError(
            f"{file} is a folder: pass the survey file itself (CSV, TSV or XLSX).",
            message_fr=f"{file} est un dossier : passez le fichier d'enquête lui-même (CSV, TSV "
            "ou XLSX).",
            path=file,
        )
    try:
        size = file.stat().st_size
        data = None if size > limit else file.read_bytes()
    except OSError as exc:
        raise InputFileError(
            f"{file} cannot be read ({exc.strerror}): check its permissions.",
            message_fr=f"{file} ne peut pas être lu ({exc.strerror}) : vérifiez ses droits.",
            path=file,
        ) from exc
    if data is None:
        raise _too_big(
            _Name(str(file)), str(file), f"is larger than {limit} bytes", f"dépasse {limit} octets"
        )
    return data, _Name(str(file)), str(file)


def _decode(
    data: bytes, *, source: _Name, file: str | None, encoding: str | None
) -> tuple[str, str]:
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise InputFileError(
                f"{source} is {what}, not a table: export the answers as CSV, TSV or XLSX.",
                message_fr=f"{source.fr} est {_MAGIC_FR[magic]}, pas un tableau : exportez les "
                "réponses en CSV, TSV ou XLSX.",
                path=file,
            )
    try:
        if encoding is not None:
            text, used = data.decode(encoding), encoding
        elif data.startswith(codecs.BOM_UTF8):
            text, used = data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text, used = data.decode("utf-16"), "utf-16"
        else:
            text, used = "", ""
            for candidate in ("utf-8", "cp1252", "latin-1"):
                try:
                    text, used = data.decode(candidate), candidate
                    break
                except UnicodeDecodeError:
                    continue
    except UnicodeDecodeError as exc:
        tried = encoding or exc.encoding
        raise InputFileError(
            f"{source} cannot be decoded as {tried} (byte {exc.start}): "
            + (
                "leave encoding out to detect it, or try 'cp1252' or 'utf-8'."
                if encoding
                else "its start says this encoding but the rest is not; export it again as UTF-8."
            ),
            message_fr=f"{source.fr} ne peut pas être décodé en {tried} (octet {exc.start}) : "
            + (
                "laissez l'encodage être détecté, ou essayez 'cp1252' ou 'utf-8'."
                if encoding
                else "son début annonce cet encodage mais la suite ne l'est pas ; exportez-le à nouveau "
                "en UTF-8."
            ),
            path=file,
        ) from exc
    text = text.removeprefix("\ufeff")
    head = text[:65536]
    controls = sum(1 for ch in head if ord(ch) < 32 and ch not in "\t\r\n")
    if "\x00" in head or controls > max(2, len(head) // 100):
        raise InputFileError(
            f"{source} is a binary file, not a table: export the answers as CSV, TSV or XLSX.",
            message_fr=f"{source.fr} est un fichier binaire, pas un tableau : exportez les réponses "
            "en CSV, TSV ou XLSX.",
            path=file,
        )
    return text, used


def _unify_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _guess_sep(text: str) -> str:
    """Pick the separator that splits the first lines into the same, largest number of fields."""
    sample = "\n".join(_unify_newlines(text).split("\n")[:60])
    best: tuple[float, int, int] = (-1.0, 0, 0)
    chosen = ","
    for rank, sep in enumerate(_SEPARATORS):
        try:
            records = [r for r in csv.reader(io.StringIO(sample), delimiter=sep) if any(r)]
        except csv.Error:  # a field past csv's limit: the table's reading says so
            continue
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        same = sum(1 for r in records if len(r) == width) / len(records)
        score = (same, width, -rank)
        if score > best:
            best, chosen = score, sep
    return chosen


def _xlsx_cells(
    data: bytes, *, source: _Name, file: str | None, sheet: str | int | None
) -> list[list[str]]:
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
        raise InputFileError(
            f"{source} is an XLSX workbook and openpyxl is not installed: install it "
            "(pip install openpyxl) or export the sheet as CSV.",
            message_fr=f"{source.fr} est un classeur XLSX et openpyxl n'est pas installé : "
            "installez-le (pip install openpyxl) ou exportez la feuille en CSV.",
            path=file,
        ) from exc
    _check_zip(data, source=source, file=file)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a bad zip
        raise InputFileError(
            f"{source} is a zip file but not a readable XLSX workbook ({type(exc).__name__}): "
            "save the sheet as XLSX or CSV.",
            message_fr=f"{source.fr} est un fichier zip mais pas un classeur XLSX lisible "
            f"({type(exc).__name__}) : enregistrez la feuille en XLSX ou en CSV.",
            path=file,
        ) from exc
    names = book.sheetnames
    try:
        if sheet is None:
            ws = book[names[0]]
        elif isinstance(sheet, int):
            ws = book[names[sheet]]
        else:
            ws = book[sheet]
    except (KeyError, IndexError) as exc:
        raise InputFileError(
            f"{source} has no sheet {sheet!r}; its sheets are {names}.",
            message_fr=f"{source.fr} n'a pas de feuille {sheet!r} ; ses feuilles sont {names}.",
            path=file,
        ) from exc
    ws.reset_dimensions()  # the sheet's declared size may lie: read the rows it has
    rows: list[list[str]] = []
    n_cells = 0
    try:
        for values in ws.iter_rows(values_only=True):
            n_cells += len(values)
            if n_cells > LIMITS.max_cells:
                raise _too_big(
                    source,
                    file,
                    f"has more than {LIMITS.max_cells} cells",
                    f"a plus de {LIMITS.max_cells} cellules",
                )
            rows.append(_checked_row([_cell_text(v) for v in values], len(rows), source, file))
    finally:
        book.close()
    return rows


def _too_big(source: _Name, file: str | None, what: str, what_fr: str) -> InputFileError:
    return InputFileError(
        f"{source} {what}, more than a survey export holds: check that it is the right file, "
        "or split it.",
        message_fr=f"{source.fr} {what_fr}, plus qu'un export d'enquête : vérifiez que c'est le "
        "bon fichier, ou découpez-le.",
        path=file,
    )


def _checked_row(row: list[str], index: int, source: _Name, file: str | None) -> list[str]:
    """Return ``row`` (the ``index``-th of the file, 0 = header) once it is within the limits."""
    if index > LIMITS.max_rows:
        raise _too_big(
            source,
            file,
            f"has more than {LIMITS.max_rows} rows",
            f"a plus de {LIMITS.max_rows} lignes",
        )
    width = len(row)
    while width and not row[width - 1]:
        width -= 1
    if width > LIMITS.max_columns:
        raise _too_big(
            source,
            file,
            f"has more than {LIMITS.max_columns} columns (row {index + 1})",
            f"a plus de {LIMITS.max_columns} colonnes (ligne {index + 1})",
        )
    for column, cell in enumerate(row[:width], start=1):
        if len(cell) > LIMITS.max_cell_chars:
            raise _too_big(
                source,
                file,
                f"has a cell of {len(cell)} characters (row {index + 1}, column {column}), "
                f"more than {LIMITS.max_cell_chars}",
                f"a une cellule de {len(cell)} caractères (ligne {index + 1}, colonne "
                f"{column}), plus de {LIMITS.max_cell_chars}",
            )
    return row


def _csv_cells(text: str, sep: str, *, source: _Name, file: str | None) -> list[list[str]]:
    """Split a text table into stripped cells, within :data:`LIMITS`."""
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(_unify_newlines(text)), delimiter=sep)
    try:
        for record in reader:
            rows.append(_checked_row([c.strip() for c in record], len(rows), source, file))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):  # csv's own limit: 131 072 characters
            limit = csv.field_size_limit()
            raise _too_big(
                source,
                file,
                f"has a cell of more than {limit} characters (row {reader.line_num})",
                f"a une cellule de plus de {limit} caractères (ligne {reader.line_num})",
            ) from exc
        raise InputFileError(
            f"{source} is not a readable table (row {reader.line_num}: {exc}): export the "
            "answers again as CSV, TSV or XLSX.",
            message_fr=f"{source.fr} n'est pas un tableau lisible (ligne {reader.line_num}) : "
            "exportez à nouveau les réponses en CSV, TSV ou XLSX.",
            path=file,
        ) from exc
    return rows


def _check_zip(data: bytes, *, source: _Name, file: str | None) -> None:
    """Refuse a workbook whose zip entries are too many, too large, or inflate too much.

    The sizes are the zip directory's: :mod:`zipfile` (which openpyxl reads through) never
    inflates an entry past its declared size.
    """
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # not a zip after all: openpyxl's reading says so
    if len(entries) > LIMITS.max_zip_entries:
        raise _too_big(
            source,
            file,
            f"is a zip of {len(entries)} entries, more than {LIMITS.max_zip_entries}",
            f"est un zip de {len(entries)} entrées, plus de {LIMITS.max_zip_entries}",
        )
    total = sum(e.file_size for e in entries)
    if total > LIMITS.max_unzipped_bytes:
        raise _too_big(
            source,
            file,
            f"unzips to {total} bytes, more than {LIMITS.max_unzipped_bytes}",
            f"se décompresse en {total} octets, plus de {LIMITS.max_unzipped_bytes}",
        )
    for e in entries:
        ratio = e.file_size / max(e.compress_size, 1)
        if e.file_size > _RATIO_FLOOR and ratio > LIMITS.max_zip_ratio:
            raise _too_big(
                source,
                file,
                f"holds an entry ({e.filename}) that inflates {ratio:.0f} times (a zip bomb?)",
                f"contient une entrée ({e.filename}) qui se décompresse {ratio:.0f} fois (une "
                "bombe zip ?)",
            )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        return repr(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).strip()


# --------------------------------------------------------------------------------------------------
# recognising columns


@dataclass(frozen=True)
class _Field:
    """A field a column can hold: exact header names, a question title, keyword groups."""

    key: str
    kind: str
    names: frozenset[str]
    title: str | None = None
    keywords: tuple[tuple[str, ...], ...] = ()


def _words(text: str) -> str:
    return " " + _WORDS.sub(" ", normalise_label(text)).strip() + " "


def _has_word(header_words: str, word: str) -> bool:
    return _words(word) in header_words


def _names(*groups: Iterable[str]) -> frozenset[str]:
    return frozenset(normalise_label(n) for g in groups for n in g)


def _su_fields(*, keywords: bool) -> list[_Field]:
    return [
        _Field(
            key=usage,
            kind="level",
            names=_names(
                [usage, USAGE_LABELS["fr"][usage], USAGE_LABELS["en"][usage]],
                USAGE_COLUMN_SYNONYMS[usage],
            ),
            title=normalise_label(QUESTIONS[usage]),
            keywords=(USAGE_COLUMN_KEYWORDS[usage],) if keywords else (),
        )
        for usage in USAGES
    ]


def _person_fields(id_names: Iterable[str] = ()) -> list[_Field]:
    syn = RESPONDENT_COLUMN_SYNONYMS
    return [
        _Field("respondent_id", "id", _names(syn["respondent_id"], id_names)),
        _Field("age_band", "age", _names(syn["age_band"]), keywords=(("age", "ans"),)),
        _Field("gender", "gender", _names(syn["gender"]), keywords=(("genre", "sexe", "gender"),)),
        _Field(
            "csp",
            "csp",
            _names(syn["csp"]),
            keywords=(("csp", "pcs", "socio professionnelle", "socioprofessionnelle"),),
        ),
    ]


def _location_fields() -> list[_Field]:
    words: dict[str, tuple[tuple[str, ...], ...]] = {
        "lon": (("longitude",),),
        "lat": (("latitude",),),
        "address": (("adresse", "address"),),
        "postcode": (("code postal", "postcode"),),
    }
    return [
        _Field(key, "location", _names(LOCATION_COLUMN_SYNONYMS[key]), keywords=words.get(key, ()))
        for key in LOCATION_COLUMNS
    ]


def _mdv_fields() -> list[_Field]:
    fields: list[_Field] = []
    for key, title in {**MDV_EASE, **MDV_SATISFACTION}.items():
        fields.append(
            _Field(
                key,
                "yes_no",
                _names([key], MDV_COLUMN_SYNONYMS.get(key, ())),
                normalise_label(title),
            )
        )
    mode_words = ("mode", "moyen de transport", "moyen", "transport mode")
    time_words = ("temps", "time", "duree", "minutes")
    zone_words = ("zone", "destination", "lieu", "quartier")
    near = {"food": "buy_food", "work": "work", "leisure": "hobby"}
    for purpose in TRIP_PURPOSES:
        words = TRIP_PURPOSE_WORDS[purpose]
        fields.append(
            _Field(
                f"{purpose}_mode",
                "mode",
                _names([f"{purpose}_mode", f"transport_mode_to_{near[purpose]}"]),
                keywords=(words, mode_words),
            )
        )
        fields.append(
            _Field(
                f"{purpose}_time_band",
                "time_band",
                _names(
                    [
                        f"{purpose}_time_band",
                        f"{purpose}_time",
                        f"transport_time_to_{near[purpose]}",
                    ]
                ),
                keywords=(words, time_words),
            )
        )
        near_zone = {"food": "food_market_zone", "work": "work_zone", "leisure": "hobby_zone"}
        fields.append(
            _Field(
                f"{purpose}_zone",
                "zone",
                _names([f"{purpose}_zone", near_zone[purpose]]),
                keywords=(words, zone_words),
            )
        )
    for topic in CHANGE_TOPICS:
        near_names = CHANGE_TOPIC_WORDS[topic]
        fields.append(
            _Field(
                f"change_{topic}",
                "willingness",
                _names([f"change_{topic}", near_names[0]]),
                keywords=(near_names[2:], ("changer", "reduire", "envie", "souhait", "change")),
            )
        )
        fields.append(
            _Field(
                f"change_{topic}_reasons",
                "reasons",
                _names([f"change_{topic}_reasons", near_names[1]]),
                keywords=(near_names[2:], ("raison", "raisons", "pourquoi", "reason", "reasons")),
            )
        )
    return fields


def _ngc_fields() -> list[_Field]:
    return [
        _Field(
            key,
            "kgco2e",
            _names([key], NGC_COLUMN_SYNONYMS[key], NGC_COLUMN_TITLES.get(key, ())),
        )
        for key in NGC_COLUMNS
    ]


def _split_unit(norm: str) -> tuple[str, Literal["kg", "t"] | None]:
    """Split a normalised NGC header into its name and the unit it states ("kg", "t" or None)."""
    found = _UNIT_SUFFIX.search(norm)
    if not found or found.start() == 0:
        return norm, None
    unit: Literal["kg", "t"] = "kg" if found["unit"].startswith("kg") else "t"
    return norm[: found.start()].strip(), unit


def _kind_fields(kind: str) -> list[_Field]:
    people = _person_fields()
    if kind == "su":
        return [*people, *_su_fields(keywords=True), *_location_fields()]
    if kind == "mdv":
        return [*people, *_mdv_fields(), *_su_fields(keywords=False), *_location_fields()]
    return [*_person_fields(NGC_ID_SYNONYMS), *_ngc_fields(), *_su_fields(keywords=False)]


def _score(header: str, spec: _Field) -> tuple[int, int]:
    """How well a header names a field: (tier, strength); tier 0 means not at all."""
    norm = normalise_label(header)
    if spec.kind == "kgco2e":
        norm = _split_unit(norm)[0]
    if not norm:
        return (0, 0)
    if norm in spec.names or (spec.title is not None and norm == spec.title):
        return (3, 0)
    if spec.title is not None:
        title = spec.title
        if len(norm) >= _TITLE_PREFIX_MIN and (title.startswith(norm) or norm.startswith(title)):
            return (2, len(norm))
        from rapidfuzz import fuzz

        if fuzz.ratio(norm, title) >= _TITLE_FUZZY:
            return (2, int(fuzz.ratio(norm, title)))
    if spec.keywords:
        words = _words(header)
        strength = 0
        for group in spec.keywords:
            hits = [len(w) for w in group if _has_word(words, w)]
            if not hits:
                return (0, 0)
            strength += max(hits)
        return (1, strength)
    return (0, 0)


def _match_columns(
    header: list[str], fields: list[_Field], *, forced: Mapping[str, str] | None, source: _Name
) -> dict[int, _Field]:
    by_key = {f.key: f for f in fields}
    assigned: dict[int, _Field] = {}
    if forced:
        for name, key in forced.items():
            if key not in by_key:
                raise ValidationError(
                    f"columns maps {name!r} to {key!r}, which is not a field of this survey; "
                    f"use one of {sorted(by_key)}.",
                    message_fr=f"columns associe {name!r} à {key!r}, qui n'est pas un champ de "
                    f"cette enquête ; utilisez l'un de {sorted(by_key)}.",
                )
            positions = [i for i, h in enumerate(header) if h == name]
            if not positions:
                raise ValidationError(
                    f"columns names {name!r}, which is not a header of {source}; its headers "
                    f"are {header}.",
                    message_fr=f"columns cite {name!r}, qui n'est pas un en-tête de {source.fr} ; "
                    f"ses en-têtes sont {header}.",
                )
            assigned[positions[0]] = by_key[key]
    taken = {f.key for f in assigned.values()}
    candidates: list[tuple[tuple[int, int], int, _Field]] = []
    for i, h in enumerate(header):
        if i in assigned:
            continue
        for spec in fields:
            if spec.key in taken:
                continue
            score = _score(h, spec)
            if score[0]:
                candidates.append((score, i, spec))
    candidates.sort(key=lambda c: (c[0], -c[1]), reverse=True)
    best_of_column: dict[int, tuple[int, int]] = {}
    for score, i, _spec in candidates:
        best_of_column.setdefault(i, score)
    for score, i, spec in candidates:
        if i in assigned or spec.key in taken:
            continue
        if score < best_of_column[i]:
            continue
        rivals = [
            j
            for s, j, other in candidates
            if other.key == spec.key
            and j != i
            and s == score
            and j not in assigned
            and best_of_column[j] == s
        ]
        if rivals:
            names = [header[i], *(header[j] for j in rivals)]
            raise ValidationError(
                f"{source}: columns {names} all look like {spec.key!r}; rename the extra ones or "
                f"pass columns={{{names[0]!r}: {spec.key!r}}}.",
                message_fr=f"{source.fr} : les colonnes {names} ressemblent toutes à {spec.key!r} ; "
                f"renommez les autres ou passez columns={{{names[0]!r}: {spec.key!r}}}.",
            )
        assigned[i] = spec
        taken.add(spec.key)
    return dict(sorted(assigned.items()))


# --------------------------------------------------------------------------------------------------
# matching answers


class _Vocabulary:
    """Normalised labels → canonical value, matched exactly, by prefix, then fuzzily."""

    def __init__(self, mapping: Mapping[str, Hashable]) -> None:
        self.exact: dict[str, Hashable] = {}
        for label, value in mapping.items():
            norm = normalise_label(label)
            if norm:
                self.exact.setdefault(norm, value)
        self.labels = list(self.exact)
        self._cache: dict[str, tuple[Hashable | None, str]] = {}

    def match(self, norm: str) -> tuple[Hashable | None, str]:
        if norm not in self._cache:
            self._cache[norm] = self._match(norm)
        return self._cache[norm]

    def _match(self, norm: str) -> tuple[Hashable | None, str]:
        if norm in self.exact:
            return self.exact[norm], "exact"
        if len(norm) >= 4:
            found = {self.exact[lab] for lab in self.labels if lab.startswith(norm)}
            if len(found) == 1:
                return found.pop(), "prefix"
        longer = [
            lab
            for lab in self.labels
            if len(lab) >= 3 and norm.startswith(lab) and not norm[len(lab)].isalnum()
        ]
        if longer:
            top = max(len(lab) for lab in longer)
            found = {self.exact[lab] for lab in longer if len(lab) == top}
            if len(found) == 1:
                return found.pop(), "prefix"
        if len(norm) >= 5:
            from rapidfuzz import fuzz, process

            hits = process.extract(norm, self.labels, scorer=fuzz.ratio, limit=8)
            best: dict[Hashable, float] = {}
            for label, score, _ in hits:
                value = self.exact[label]
                best[value] = max(best.get(value, 0.0), float(score))
            ranked = sorted(best.items(), key=lambda kv: kv[1], reverse=True)
            if ranked and ranked[0][1] >= _FUZZY_CUTOFF:
                margin = ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else 0.0)
                if margin >= _FUZZY_MARGIN:
                    return ranked[0][0], "fuzzy"
        return None, "unknown"


def _level_vocabulary(usage: str) -> _Vocabulary:
    mapping: dict[str, Hashable] = {}
    for level, labels in LEVEL_LABELS[usage].items():
        for text in labels.values():
            mapping[text] = level
    for text, level in LEVEL_SYNONYMS.get(usage, {}).items():
        mapping.setdefault(text, level)
    return _Vocabulary(mapping)


def _labelled_vocabulary(
    labels: Mapping[str, Mapping[str, str]], synonyms: Mapping[str, str]
) -> _Vocabulary:
    mapping: dict[str, Hashable] = {key: key for key in labels}
    for key, texts in labels.items():
        for text in texts.values():
            mapping[text] = key
    for text, key in synonyms.items():
        mapping.setdefault(text, key)
    return _Vocabulary(mapping)


_VOCABULARIES: dict[str, _Vocabulary] = {}


def _vocabulary(name: str) -> _Vocabulary:
    if name not in _VOCABULARIES:
        if name in USAGES:
            _VOCABULARIES[name] = _level_vocabulary(name)
        elif name == "yes_no":
            _VOCABULARIES[name] = _labelled_vocabulary(YES_NO_LABELS, YES_NO_SYNONYMS)
        elif name == "mode":
            _VOCABULARIES[name] = _labelled_vocabulary(TRAVEL_MODE_LABELS, TRAVEL_MODE_SYNONYMS)
        elif name == "time_band":
            _VOCABULARIES[name] = _labelled_vocabulary(TIME_BAND_LABELS, TIME_BAND_SYNONYMS)
        elif name == "willingness":
            _VOCABULARIES[name] = _labelled_vocabulary(WILLINGNESS_LABELS, WILLINGNESS_SYNONYMS)
        elif name == "reasons":
            _VOCABULARIES[name] = _labelled_vocabulary(CHANGE_REASONS, CHANGE_REASON_SYNONYMS)
        elif name == "gender":
            _VOCABULARIES[name] = _Vocabulary(
                {**GENDER_SYNONYMS, **{g.lower(): g for g in GENDERS}}
            )
        elif name == "csp":
            mapping: dict[str, Hashable] = {code: code for code in CSP_LABELS["fr"]}
            for lang in ("fr", "en"):
                for code, text in CSP_LABELS[lang].items():
                    mapping[text] = code
            mapping.update(CSP_SYNONYMS)
            _VOCABULARIES[name] = _Vocabulary(mapping)
        else:  # pragma: no cover - internal names only
            raise KeyError(name)
    return _VOCABULARIES[name]


# --------------------------------------------------------------------------------------------------
# per-row issues


@dataclass
class _Issues:
    """Per-row messages: severity (rejected, partial, note), English, French."""

    n: int
    items: list[list[tuple[str, str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.items = [[] for _ in range(self.n)]

    def add(self, i: int, severity: str, en: str, fr: str) -> None:
        self.items[i].append((severity, en, fr))

    def status(self, i: int) -> str:
        severities = {s for s, _, _ in self.items[i]}
        if "rejected" in severities:
            return "rejected"
        if "partial" in severities:
            return "partial"
        return "accepted"


def _is_missing(norm: str) -> bool:
    return norm in _MISSING


def _label_fr(key: str) -> str:
    if key in USAGES:
        return USAGE_LABELS["fr"][key]
    return key


# --------------------------------------------------------------------------------------------------
# SU


def _read_su(
    table: _Table,
    *,
    columns: Mapping[str, str] | None,
    codes: bool | None,
    code_base: int | None,
    issues: list[QetGeoWarning],
) -> SurveyRead:
    fields = _kind_fields("su")
    found = _match_columns(table.header, fields, forced=columns, source=table.source)
    usage_cols = {spec.key: i for i, spec in found.items() if spec.kind == "level"}
    if not usage_cols or _holds_footprints(table, usage_cols.values()):
        raise _no_column_error(table, "su")
    coding, base = _su_coding(table, usage_cols, codes=codes, code_base=code_base, issues=issues)
    n = len(table.rows)
    rows = _Issues(n)
    ids = _respondent_ids(table, found, rows)
    data: dict[str, pd.Series] = {}
    for usage in USAGES:
        if usage not in usage_cols:
            data[usage] = pd.Series(pd.NA, index=range(n), dtype="Int8")
            continue
        values = _column(table, usage_cols[usage])
        if coding == "labels":
            data[usage] = _parse_levels(values, usage, rows)
        else:
            data[usage] = _parse_codes(values, usage, base, rows)
    present = tuple(u for u in USAGES if u in usage_cols)
    for i in range(n):
        answered = [u for u in present if not pd.isna(data[u].iloc[i])]
        if not answered and not any(s == "rejected" for s, _, _ in rows.items[i]):
            rows.add(i, "rejected", "no usage answered", "aucun usage renseigné")
    person = _parse_person(table, found, rows)
    answers = pd.DataFrame({**data, **person})
    return _assemble(
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


def _holds_footprints(table: _Table, columns: Iterable[int]) -> bool:
    """Tell whether SU-looking columns hold kgCO2e figures (an NGC file read as SU)."""
    values = [v for i in columns for v in _column(table, i) if not _is_missing(normalise_label(v))]
    figures = [x for x in (_number(v) for v in values) if x is not None]
    return bool(values) and sum(1 for x in figures if x not in (0, 1, 2, 3)) > len(values) / 2


def _missing_usages_note(present: tuple[str, ...]) -> tuple[str, str]:
    absent = [u for u in USAGES if u not in present]
    return (
        f"no column for {', '.join(absent)}: complete rows need the {len(present)} usages present",
        f"pas de colonne pour {', '.join(_label_fr(u) for u in absent)} : les lignes complètes "
        f"demandent les {len(present)} usages présents",
    )


def _su_coding(
    table: _Table,
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
        for v in _column(table, i)
        if not _is_missing(normalise_label(v))
    }
    all_integers = bool(values) and all(_INTEGER.match(v) for v in values)
    if codes is False or (codes is None and not all_integers):
        return "labels", 1
    numbers = {int(float(v)) for v in values if _INTEGER.match(v)}
    if code_base is None:
        if 0 in numbers and 3 in numbers:
            raise ValidationError(
                f"{table.source}: the usage answers are numbers from 0 to 3, so neither 0/1/2 "
                "nor 1/2/3 codes: fix the file, or pass code_base=0 or code_base=1 to reject "
                "the rows out of range.",
                message_fr=f"{table.source.fr} : les réponses aux usages sont des nombres de 0 à 3, "
                "donc ni des codes 0/1/2 ni 1/2/3 : corrigez le fichier, ou passez code_base=0 "
                "ou code_base=1 pour rejeter les lignes hors plage.",
            )
        if 0 in numbers:
            code_base = 0
        else:
            code_base = 1
            if 3 not in numbers:
                issues.append(
                    QetGeoWarning(
                        f"{table.source}: the usage codes are only 1 and 2, so they could be "
                        "0/1/2 or 1/2/3 codes; read as 1/2/3 (1 = lowest carbon). Pass "
                        "code_base=0 if 0 is the lowest-carbon answer.",
                        message_fr=f"{table.source.fr} : les codes des usages ne valent que 1 et 2, "
                        "ils peuvent donc être des codes 0/1/2 ou 1/2/3 ; lus comme 1/2/3 (1 = "
                        "le plus sobre). Passez code_base=0 si 0 est la réponse la plus sobre.",
                    )
                )
    return ("codes 0-2" if code_base == 0 else "codes 1-3"), code_base


def _column(table: _Table, i: int) -> list[str]:
    return [r[i].strip() if i < len(r) else "" for r in table.rows]


def _parse_levels(values: list[str], usage: str, rows: _Issues) -> pd.Series:
    vocab = _vocabulary(usage)
    out: list[Any] = []
    for i, raw in enumerate(values):
        norm = normalise_label(raw)
        if _is_missing(norm):
            out.append(pd.NA)
            rows.add(
                i,
                "partial",
                f"no answer to {usage}",
                f"pas de réponse à la question {_label_fr(usage)}",
            )
            continue
        level, how = vocab.match(norm)
        if level is None:
            out.append(pd.NA)
            hint_en = hint_fr = ""
            if _INTEGER.match(raw):
                hint_en = " (numbers are read as codes only when every answer is a number: pass codes=True)"
                hint_fr = " (les nombres ne sont lus comme codes que si toutes les réponses en sont : passez codes=True)"
            rows.add(
                i,
                "rejected",
                f"unknown answer {raw!r} to {usage}; expected one of "
                f"{[LEVEL_LABELS[usage][k]['fr'] for k in (1, 2, 3)]}{hint_en}",
                f"réponse inconnue {raw!r} à la question {_label_fr(usage)} ; attendu l'une de "
                f"{[LEVEL_LABELS[usage][k]['fr'] for k in (1, 2, 3)]}{hint_fr}",
            )
            continue
        out.append(level)
        if how == "fuzzy":
            label = LEVEL_LABELS[usage][int(str(level))]["fr"]
            rows.add(
                i,
                "note",
                f"{raw!r} read as {label!r} (close spelling) for {usage}",
                f"{raw!r} lu comme {label!r} (orthographe proche) pour {_label_fr(usage)}",
            )
    return pd.Series(out, dtype="Int8")


def _parse_codes(values: list[str], usage: str, base: int, rows: _Issues) -> pd.Series:
    out: list[Any] = []
    allowed = (base, base + 1, base + 2)
    for i, raw in enumerate(values):
        norm = normalise_label(raw)
        if _is_missing(norm):
            out.append(pd.NA)
            rows.add(
                i,
                "partial",
                f"no answer to {usage}",
                f"pas de réponse à la question {_label_fr(usage)}",
            )
            continue
        if not _INTEGER.match(raw) or int(float(raw)) not in allowed:
            out.append(pd.NA)
            rows.add(
                i,
                "rejected",
                f"code {raw!r} for {usage} is not one of {list(allowed)}",
                f"le code {raw!r} pour {_label_fr(usage)} n'est pas l'un de {list(allowed)}",
            )
            continue
        out.append(int(float(raw)) - base + 1)
    return pd.Series(out, dtype="Int8")


def _respondent_ids(
    table: _Table, found: Mapping[int, _Field], rows: _Issues, *, number_from_one: bool = False
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
                rows.add(i, "rejected", "empty row", "ligne vide")
                ids.append("")
                continue
            _check_width(table, i, rows)
            count += 1
            ids.append(str(count))
        table.notes.append(
            (
                "no respondent id column: respondents are numbered from 1 in file order",
                "pas de colonne d'identifiant : les répondants sont numérotés à partir de 1 dans "
                "l'ordre du fichier",
            )
        )
        return ids
    if id_col is None:
        for i in range(len(table.rows)):
            if any(c.strip() for c in table.rows[i]):
                _check_width(table, i, rows)
        table.notes.append(
            (
                "no respondent id column: the row numbers are the ids",
                "pas de colonne d'identifiant : les numéros de ligne servent d'identifiants",
            )
        )
        return numbers
    ids = [_id_text(v) for v in _column(table, id_col)]
    first_seen: dict[str, int] = {}
    for i, rid in enumerate(ids):
        if not any(c.strip() for c in table.rows[i]):
            rows.add(i, "rejected", "empty row", "ligne vide")
            ids[i] = ""
            continue
        _check_width(table, i, rows)
        if not rid:
            rows.add(
                i,
                "rejected",
                "no respondent id: fill it in",
                "pas d'identifiant de répondant : renseignez-le",
            )
            continue
        if rid in first_seen:
            rows.add(
                i,
                "rejected",
                f"respondent id {rid!r} already on row {first_seen[rid] + 2}",
                f"identifiant {rid!r} déjà présent ligne {first_seen[rid] + 2}",
            )
            continue
        first_seen[rid] = i
    return ids


def _check_width(table: _Table, i: int, rows: _Issues) -> None:
    """Reject a row with values beyond the header: its answers are probably shifted."""
    extra = table.rows[i][len(table.header) :]
    if any(c.strip() for c in extra):
        width = len(table.header) + max(k + 1 for k, c in enumerate(extra) if c.strip())
        rows.add(
            i,
            "rejected",
            f"{width} values where the header has {len(table.header)}: a separator inside an "
            "answer? Quote such answers or use another separator",
            f"{width} valeurs pour {len(table.header)} colonnes d'en-tête : un séparateur dans "
            "une réponse ? Mettez ces réponses entre guillemets ou changez de séparateur",
        )


def _id_text(value: str) -> str:
    value = value.strip()
    if re.fullmatch(r"\d+\.0+", value):
        return value.split(".")[0]
    return value


def _parse_person(
    table: _Table, found: Mapping[int, _Field], rows: _Issues
) -> dict[str, pd.Series]:
    """Age band, gender and socio-professional category, when the file has them."""
    out: dict[str, pd.Series] = {}
    for i, spec in found.items():
        if spec.kind not in ("age", "gender", "csp"):
            continue
        values = _column(table, i)
        parsed: list[Any] = []
        for r, raw in enumerate(values):
            norm = normalise_label(raw)
            if _is_missing(norm):
                parsed.append(None)
                continue
            value = _person_value(spec.kind, norm)
            if value is None:
                rows.add(
                    r,
                    "partial",
                    f"{spec.key} {raw!r} not understood (left empty)",
                    f"{spec.key} {raw!r} non compris (laissé vide)",
                )
            parsed.append(value)
        if spec.kind == "age":
            out["age_band"] = pd.Series(
                pd.Categorical(parsed, categories=list(AGE_BANDS), ordered=True)
            )
        elif spec.kind == "gender":
            out["gender"] = pd.Series(pd.Categorical(parsed, categories=list(GENDERS)))
        else:
            out["csp"] = pd.Series(pd.Categorical(parsed, categories=sorted(CSP_LABELS["fr"])))
    return out


def _person_value(kind: str, norm: str) -> str | None:
    if kind == "age":
        return _age_band(norm)
    if kind == "csp":
        code = re.fullmatch(r"(?:cs)?\s*([1-8])(?:_.*)?|([1-8])\d", norm)
        if code:
            return f"CS{code.group(1) or code.group(2)}"
    value, _ = _vocabulary(kind).match(norm)
    return None if value is None else str(value)


_AGE_RANGE = re.compile(r"(?:de |from )?(\d{2})\s*(?:-|a|to|–)\s*(\d{2})(?: ans)?")
_AGE_PLUS = re.compile(
    r"(?:plus de |above |> ?|>= ?)?(\d{2}) ?(?:\+|ans et plus|et plus|ans ou plus|ans \+|ans et \+|et \+)?"
)


def _age_band(norm: str) -> str | None:
    text = norm.replace("_", " ").replace("from ", "").strip()
    text = re.sub(r"\s+", " ", text)
    found = _AGE_RANGE.fullmatch(text)
    if found:
        band = f"{int(found.group(1))}-{int(found.group(2))}"
        return band if band in AGE_BANDS else None
    plus = _AGE_PLUS.fullmatch(text)
    if plus and int(plus.group(1)) == 75 and text != "75":
        return "75+"
    if re.fullmatch(r"\d{1,3}", text):
        age = int(text)
        if age < 15 or age > 120:
            return None
        for band in AGE_BANDS[:-1]:
            low, high = (int(x) for x in band.split("-"))
            if low <= age <= high:
                return band
        return "75+"
    return None


# --------------------------------------------------------------------------------------------------
# MdV


def _read_mdv(
    table: _Table, *, columns: Mapping[str, str] | None, issues: list[QetGeoWarning]
) -> SurveyRead:
    found = _match_columns(table.header, _kind_fields("mdv"), forced=columns, source=table.source)
    main_kinds = {"yes_no", "mode", "time_band", "zone", "willingness", "reasons"}
    if not any(spec.kind in main_kinds for spec in found.values()):
        raise _no_column_error(table, "mdv")
    n = len(table.rows)
    rows = _Issues(n)
    ids = _respondent_ids(table, found, rows)
    data: dict[str, pd.Series] = {}
    for i, spec in found.items():
        values = _column(table, i)
        if spec.kind == "level":
            data[spec.key] = _parse_levels(values, spec.key, rows)
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
    person = _parse_person(table, found, rows)
    answers = pd.DataFrame({k: data[k] for k in order if k in data} | person)
    return _assemble(
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


def _parse_category(values: list[str], spec: _Field, rows: _Issues) -> pd.Series:
    vocab = _vocabulary(spec.kind)
    categories, ordered = _CATEGORY_ORDER[spec.kind]
    out: list[str | None] = []
    for i, raw in enumerate(values):
        norm = normalise_label(raw)
        if _is_missing(norm):
            out.append(None)
            rows.add(i, "partial", f"no answer to {spec.key}", f"pas de réponse à {spec.key}")
            continue
        value, how = vocab.match(norm)
        if value is None and spec.kind == "time_band":
            value = _minutes_band(norm)
        if value is None:
            out.append(None)
            rows.add(
                i,
                "rejected",
                f"unknown answer {raw!r} to {spec.key}; expected one of {list(categories)}",
                f"réponse inconnue {raw!r} à {spec.key} ; attendu l'une de {list(categories)}",
            )
            continue
        out.append(str(value))
        if how == "fuzzy":
            rows.add(
                i,
                "note",
                f"{raw!r} read as {value!r} (close spelling) for {spec.key}",
                f"{raw!r} lu comme {value!r} (orthographe proche) pour {spec.key}",
            )
    return pd.Series(pd.Categorical(out, categories=list(categories), ordered=ordered))


def _parse_zones(values: list[str], spec: _Field, rows: _Issues) -> pd.Series:
    out: list[str | None] = []
    for i, raw in enumerate(values):
        if _is_missing(normalise_label(raw)):
            out.append(None)
            rows.add(i, "partial", f"no answer to {spec.key}", f"pas de réponse à {spec.key}")
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


def _parse_reasons(values: list[str], spec: _Field, rows: _Issues) -> pd.Series:
    vocab = _vocabulary("reasons")
    out: list[str | None] = []
    for i, raw in enumerate(values):
        text = raw.strip().strip("{}[]")
        if _is_missing(normalise_label(text)):
            out.append(None)
            continue
        parts = [p.strip().strip("'\"") for p in re.split(r"[;|\n]", text) if p.strip()]
        keys: list[str] = []
        unknown: list[str] = []
        for part in parts:
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
                f"{spec.key}: {unknown} read as 'other'",
                f"{spec.key} : {unknown} lu(s) comme 'autre'",
            )
        out.append(";".join(dict.fromkeys(keys)))
    return pd.Series(out, dtype="string")


# --------------------------------------------------------------------------------------------------
# NGC


def _with_id_column(
    table: _Table, columns: Mapping[str, str] | None, id_column: str | None
) -> Mapping[str, str] | None:
    """Add ``id_column`` to the forced column mapping, once it is known to be a header."""
    if id_column is None:
        return columns
    if id_column not in table.header:
        shown = ", ".join(table.header)
        raise ValidationError(
            f"Column {id_column!r} is not in {table.source}. Columns: {shown}.",
            message_fr=f"La colonne {id_column!r} n'est pas dans {table.source.fr}. Colonnes : "
            f"{shown}.",
        )
    forced = dict(columns or {})
    if any((key == "respondent_id") != (name == id_column) for name, key in forced.items()):
        raise ValidationError(
            f"id_column={id_column!r} and columns={forced} name different respondent id "
            "columns: give the id column in one of them only.",
            message_fr=f"id_column={id_column!r} et columns={forced} désignent des colonnes "
            "d'identifiant différentes : donnez la colonne d'identifiant dans l'un des deux "
            "seulement.",
        )
    forced[id_column] = "respondent_id"
    return forced


def _read_ngc(
    table: _Table,
    *,
    columns: Mapping[str, str] | None,
    unit: Literal["kg", "t"] | None,
    strict: bool,
    issues: list[QetGeoWarning],
) -> SurveyRead:
    """Read NGC results; ``strict`` raises where rows would be rejected (``errors="raise"``)."""
    found = _match_columns(table.header, _kind_fields("ngc"), forced=columns, source=table.source)
    figures = {spec.key: i for i, spec in found.items() if spec.kind == "kgco2e"}
    if not figures:
        raise _no_column_error(table, "ngc")
    if strict:
        _require_footprints(table, figures)
    n = len(table.rows)
    rows = _Issues(n)
    ids = _respondent_ids(table, found, rows, number_from_one=True)
    id_col = next((i for i, spec in found.items() if spec.key == "respondent_id"), None)
    if id_col is None:
        issues.append(
            QetGeoWarning(
                f"{table.source} has no respondent identifier column: rows are numbered from 1, "
                "so the results cannot be linked to other surveys; pass id_column= if the ids "
                "are under another header.",
                message_fr=f"{table.source.fr} n'a pas de colonne d'identifiant des répondants : les "
                "lignes sont numérotées à partir de 1, et les résultats ne peuvent pas être "
                "reliés aux autres enquêtes ; passez id_column= si les identifiants sont sous un "
                "autre en-tête.",
            )
        )
    elif strict:
        _raise_on_bad_ids(table, table.header[id_col], ids)
    data: dict[str, pd.Series] = {}
    bad: dict[int, list[str]] = {}
    for i, spec in found.items():
        if spec.kind == "level":
            data[spec.key] = _parse_levels(_column(table, i), spec.key, rows)
        elif spec.kind == "kgco2e":
            bad[i] = []
            data[spec.key] = _parse_numbers(_column(table, i), spec, rows, bad=bad[i])
    if strict:
        _raise_on_bad_figures(table, bad)
    header_units = {
        key: _split_unit(normalise_label(table.header[i]))[1] for key, i in figures.items()
    }
    coding = _ngc_units(data, unit=unit, header_units=header_units, table=table)
    _check_ngc_rows(data, rows, reject=not strict, source=table.source, issues=issues)
    person = _parse_person(table, found, rows)
    if strict:
        _raise_on_rejected(table, ids, rows)
    order = [*NGC_COLUMNS, *USAGES]
    return _assemble(
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


def _require_footprints(table: _Table, figures: Mapping[str, int]) -> None:
    """Refuse a file that gives no footprint per respondent: no total and under 4 categories."""
    if "total" in figures or sum(1 for c in NGC_CATEGORIES if c in figures) >= 4:
        return
    shown = ", ".join(table.header)
    raise ValidationError(
        f"{table.source} has neither a total nor the NGC categories: expected columns such as "
        "'bilan' or 'Empreinte totale', 'alimentation', 'transport', 'logement', 'divers', "
        f"'services sociétaux'. Columns found: {shown}.",
        message_fr=f"{table.source.fr} n'a ni total ni les catégories NGC : colonnes attendues comme "
        "'bilan' ou 'Empreinte totale', 'alimentation', 'transport', 'logement', 'divers', "
        f"'services sociétaux'. Colonnes trouvées : {shown}.",
    )


def _raise_on_bad_ids(table: _Table, header: str, ids: list[str]) -> None:
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
    example_en = f" (e.g. {dup[0]!r})" if dup else ""
    example_fr = f" (par exemple {dup[0]!r})" if dup else ""
    raise ValidationError(
        f"Column {header!r} of {table.source} has missing or duplicate identifiers{example_en}: "
        "each respondent needs a unique id.",
        message_fr=f"La colonne {header!r} de {table.source.fr} a des identifiants absents ou en "
        f"double{example_fr} : chaque répondant doit avoir un identifiant unique.",
    )


def _raise_on_bad_figures(table: _Table, bad: Mapping[int, list[str]]) -> None:
    """Refuse the first column, in file order, holding figures that are not non-negative."""
    for i, values in bad.items():
        if values:
            raise ValidationError(
                f"Column {table.header[i]!r} of {table.source} holds {len(values)} values that "
                f"are not non-negative numbers (e.g. {values[0]!r}): correct them, or empty the "
                "cells whose figure is unknown.",
                message_fr=f"La colonne {table.header[i]!r} de {table.source.fr} contient "
                f"{len(values)} valeurs qui ne sont pas des nombres positifs ou nuls (par exemple "
                f"{values[0]!r}) : corrigez-les, ou videz les cellules dont la valeur est "
                "inconnue.",
            )


def _raise_on_rejected(table: _Table, ids: list[str], rows: _Issues) -> None:
    """Refuse the first row that would be rejected (blank rows aside)."""
    for i, items in enumerate(rows.items):
        rejected = [(en, fr) for severity, en, fr in items if severity == "rejected"]
        if rejected and any(c.strip() for c in table.rows[i]):
            raise ValidationError(
                f"{table.source}, row {i + 2} (respondent {ids[i]!r}) cannot be read: "
                f"{'; '.join(en for en, _ in rejected)}. Fix the row, or read the file with "
                "qet_geo.surveys.io.read_ngc, which leaves such rows out and reports them.",
                message_fr=f"{table.source.fr}, ligne {i + 2} (répondant {ids[i]!r}) illisible : "
                f"{' ; '.join(fr for _, fr in rejected)}. Corrigez la ligne, ou lisez le fichier "
                "avec qet_geo.surveys.io.read_ngc, qui écarte ces lignes et les signale.",
            )


_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?$")


def _number(raw: str) -> float | None:
    text = raw.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").lower()
    text = text.removesuffix("kgco2e").removesuffix("kg")
    if "," in text and "." in text:
        text = (
            text.replace(",", "")
            if text.index(",") < text.index(".")
            else (text.replace(".", "").replace(",", "."))
        )
    else:
        text = text.replace(",", ".")
    return float(text) if _NUMBER.match(text) else None


def _parse_numbers(
    values: list[str], spec: _Field, rows: _Issues, *, bad: list[str] | None = None
) -> pd.Series:
    """Read figures; those that are not non-negative numbers are also appended to ``bad``."""
    out: list[Any] = []
    for i, raw in enumerate(values):
        if _is_missing(normalise_label(raw)):
            out.append(pd.NA)
            rows.add(i, "partial", f"no figure for {spec.key}", f"pas de valeur pour {spec.key}")
            continue
        value = _number(raw)
        if value is None or not math.isfinite(value):
            out.append(pd.NA)
            rows.add(
                i,
                "rejected",
                f"{spec.key} {raw!r} is not a number",
                f"{spec.key} {raw!r} n'est pas un nombre",
            )
            if bad is not None:
                bad.append(raw)
            continue
        if value < 0:
            out.append(pd.NA)
            rows.add(
                i,
                "rejected",
                f"{spec.key} {raw!r} is negative",
                f"{spec.key} {raw!r} est négatif",
            )
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
    table: _Table,
) -> str:
    """Convert the figures to kgCO2e in place; return the coding: kgco2e, tco2e or mixed."""
    keys = [k for k in NGC_COLUMNS if k in data]
    units: dict[str, Literal["kg", "t"]]
    if unit is not None:
        units = dict.fromkeys(keys, unit)
    elif any(header_units.get(k) for k in keys):
        units = {k: header_units.get(k) or "kg" for k in keys}
        table.notes.append(
            (
                "units read from the headers (kilograms where a header states none)",
                "unités lues dans les en-têtes (kilogrammes là où un en-tête n'en donne pas)",
            )
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
                (
                    "figures read as tonnes CO2e (median total below 100), converted to kg",
                    "valeurs lues en tonnes CO2e (total médian sous 100), converties en kg",
                )
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
    rows: _Issues,
    *,
    reject: bool,
    source: _Name,
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
                f"{sub} ({data[sub].iloc[int(i)]:.0f}) exceeds {parent} "
                f"({data[parent].iloc[int(i)]:.0f})",
                f"{sub} ({data[sub].iloc[int(i)]:.0f}) dépasse {parent} "
                f"({data[parent].iloc[int(i)]:.0f})",
            )
        count = int(over.sum())
        if count:
            issues.append(
                QetGeoWarning(
                    f"{count} row(s) of {source} have {sub} larger than {parent}: check the "
                    "columns and their units"
                    + ("; these rows are rejected." if reject else "; these rows are kept."),
                    message_fr=f"{count} ligne(s) de {source.fr} ont {sub} supérieur à {parent} : "
                    "vérifiez les colonnes et leurs unités"
                    + ("; ces lignes sont rejetées." if reject else "; ces lignes sont gardées."),
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
                f"the categories add up to {total.iloc[int(i)]:.0f}, not the total "
                f"{data['total'].iloc[int(i)]:.0f}",
                f"les catégories totalisent {total.iloc[int(i)]:.0f}, pas le total "
                f"{data['total'].iloc[int(i)]:.0f}",
            )
        count = int(off.sum())
        if count:
            issues.append(
                QetGeoWarning(
                    f"{count} totals of {source} differ from the sum of their five categories "
                    "by more than 2 %: check the columns and their units.",
                    message_fr=f"{count} totaux de {source.fr} diffèrent de plus de 2 % de la "
                    "somme de leurs cinq catégories : vérifiez les colonnes et leurs unités.",
                )
            )


# --------------------------------------------------------------------------------------------------
# assembling the result


def _no_column_error(table: _Table, kind: str) -> ValidationError:
    others = {
        other: [
            table.header[i]
            for i, spec in _match_columns(
                table.header, _kind_fields(other), forced=None, source=table.source
            ).items()
            if spec.kind not in ("id", "age", "gender", "csp", "location")
        ]
        for other in ("su", "mdv", "ngc")
        if other != kind
    }
    readers = {"su": "read_su", "mdv": "read_mdv", "ngc": "read_ngc"}
    hint_en = hint_fr = ""
    for other, cols in others.items():
        if len(cols) >= 2:
            hint_en = f" It looks like a {other.upper()} file: read it with {readers[other]}."
            hint_fr = (
                f" Il ressemble à un fichier {other.upper()} : lisez-le avec {readers[other]}."
            )
            break
    expected = {
        "su": "the NEAR question titles (e.g. 'Lors de vos repas, la viande est présente dans...') "
        "or the keys meat_frequency, transportation_mode, ...",
        "mdv": "keys such as easy_walking, satisfied_markets, food_mode, work_time_band, "
        "change_car (or NEAR's way_of_life_answer columns)",
        "ngc": "NGC categories such as bilan, alimentation, transport, logement, divers, "
        "services sociétaux (or 'transport . avion')",
    }[kind]
    shown = [h for h in table.header if h][:8]
    return ValidationError(
        f"{table.source}: no {kind.upper()} column recognised among {shown}; expected {expected}."
        f" Rename the headers or pass columns={{header: key}}.{hint_en}",
        message_fr=f"{table.source.fr} : aucune colonne {kind.upper()} reconnue parmi {shown} ; "
        f"attendu {expected}. Renommez les en-têtes ou passez columns={{en-tête: clé}}.{hint_fr}",
        path=table.source if Path(table.source).exists() else None,
    )


def _assemble(
    table: _Table,
    *,
    kind: SurveyKind,
    answers: pd.DataFrame,
    ids: list[str],
    rows: _Issues,
    found: Mapping[int, _Field],
    coding: str,
    usages: tuple[str, ...],
    issues: list[QetGeoWarning],
    extra_notes: list[tuple[str, str]],
) -> SurveyRead:
    n = len(table.rows)
    statuses = [rows.status(i) for i in range(n)]
    report = pd.DataFrame(
        {
            "row": pd.array([i + 2 for i in range(n)], dtype="Int64"),
            "respondent_id": pd.array(ids, dtype="string"),
            "status": pd.array(statuses, dtype="string"),
            "reason_en": pd.array(
                ["; ".join(en for _, en, _ in rows.items[i]) for i in range(n)], dtype="string"
            ),
            "reason_fr": pd.array(
                ["; ".join(fr for _, _, fr in rows.items[i]) for i in range(n)], dtype="string"
            ),
        }
    )
    keep = [s != "rejected" for s in statuses]
    index = pd.Index([ids[i] for i in range(n) if keep[i]], name="respondent_id", dtype="str")
    answers = answers.loc[keep].copy()
    answers.index = index
    location_cols = {spec.key: i for i, spec in found.items() if spec.kind == "location"}
    locations = pd.DataFrame(
        {key: pd.array(_column(table, i), dtype="string") for key, i in location_cols.items()}
    )
    if location_cols:
        locations = locations.loc[keep].copy()
        locations = locations.mask(locations.map(lambda v: normalise_label(str(v)) in _MISSING))
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
    notes.append(
        {
            "labels": ("answers read as labels", "réponses lues comme libellés"),
            "codes 1-3": ("answers read as codes 1/2/3", "réponses lues comme codes 1/2/3"),
            "codes 0-2": ("answers read as codes 0/1/2", "réponses lues comme codes 0/1/2"),
            "kgco2e": ("figures in kgCO2e/yr", "valeurs en kgCO2e/an"),
            "tco2e": ("figures in tCO2e/yr", "valeurs en tCO2e/an"),
            "mixed": (
                "figures in kgCO2e/yr or tCO2e/yr, as each header says",
                "valeurs en kgCO2e/an ou tCO2e/an, selon chaque en-tête",
            ),
        }[coding]
    )
    notes += extra_notes
    _warn_rows(table, statuses, ignored, issues)
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
        source=str(table.source),
        encoding=table.encoding,
        sep=table.sep,
        coding=coding,
        columns=column_map,
        ignored_columns=ignored,
        usages=usages,
        locations=locations,
        notes=tuple(notes),
    )


def _warn_rows(
    table: _Table, statuses: list[str], ignored: tuple[str, ...], issues: list[QetGeoWarning]
) -> None:
    rejected, partial = statuses.count("rejected"), statuses.count("partial")
    if rejected or partial:
        issues.append(
            QetGeoWarning(
                f"{table.source}: {rejected} row(s) rejected and {partial} partial out of "
                f"{len(statuses)}; see the report (SurveyRead.report or 'qet survey check') for "
                "the reason of each and fix the file.",
                message_fr=f"{table.source.fr} : {rejected} ligne(s) rejetée(s) et {partial} "
                f"partielle(s) sur {len(statuses)} ; le rapport (SurveyRead.report ou "
                "« qet survey check ») donne la raison de chacune : corrigez le fichier.",
            )
        )
    if not statuses or statuses.count("rejected") == len(statuses):
        issues.append(
            QetGeoWarning(
                f"{table.source}: no row could be read; see the report.",
                message_fr=f"{table.source.fr} : aucune ligne n'a pu être lue ; voyez le rapport.",
            )
        )
    if ignored:
        issues.append(
            QetGeoWarning(
                f"{table.source}: columns {list(ignored)} were not recognised and are ignored; "
                "rename them or pass columns={header: key} to read them.",
                message_fr=f"{table.source.fr} : les colonnes {list(ignored)} ne sont pas reconnues "
                "et sont ignorées ; renommez-les ou passez columns={en-tête: clé} pour les lire.",
            )
        )
