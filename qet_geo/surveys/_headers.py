"""Which column of a survey file holds which field: header matching for every reader.

Columns are recognised by their header, compared after
:func:`~qet_geo.surveys.schema.normalise_label` (accents, case, apostrophes, trailing punctuation):
first the canonical keys (``meat_frequency``) and synonyms (NEAR's database names, "viande",
"avion"...), then the NEAR question titles, even truncated or slightly altered (a header that is a
prefix of the title of at least 12 characters, or within 90 % similarity), then for a few fields a
keyword in the header ("Tranche d'âge" → ``age_band``). ``columns={header: key}`` forces a
mapping; two columns recognised as the same field raise an error naming both. NGC headers may end
with a unit ("Avion (t)"), read apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from qet_geo.errors import ValidationError
from qet_geo.i18n import LANGS, Msg, msg
from qet_geo.surveys.schema import (
    CHANGE_TOPIC_WORDS,
    CHANGE_TOPICS,
    LOCATION_COLUMN_SYNONYMS,
    LOCATION_COLUMNS,
    MDV_COLUMN_SYNONYMS,
    MDV_EASE,
    MDV_SATISFACTION,
    NGC_COLUMN_SYNONYMS,
    NGC_COLUMN_TITLES,
    NGC_COLUMNS,
    NGC_ID_SYNONYMS,
    QUESTIONS,
    RESPONDENT_COLUMN_SYNONYMS,
    TRIP_PURPOSE_WORDS,
    TRIP_PURPOSES,
    USAGE_COLUMN_KEYWORDS,
    USAGE_COLUMN_SYNONYMS,
    USAGE_LABELS,
    USAGES,
    normalise_label,
)
from qet_geo.surveys.tables import SourceName, Table

_WORDS = re.compile(r"[^0-9a-z+<>]+")

# A unit at the end of an NGC header: "Avion (t)", "Empreinte totale en kg CO2e / an", "[tCO2e]".
_UNIT_SUFFIX = re.compile(
    r"(?:\s+|\s*[\(\[]\s*)(?:en\s+)?"
    r"(?P<unit>kg\s*co2\s*e?|kgco2e?|t\s*co2\s*e?|tco2e?|tonnes?|kg|t)"
    r"(?:\s*(?:/|par)\s*(?:an|year|yr))?\s*[\)\]]?$"
)

_TITLE_PREFIX_MIN = 12
_TITLE_FUZZY = 90.0


@dataclass(frozen=True)
class Field:
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


def _su_fields(*, keywords: bool) -> list[Field]:
    return [
        Field(
            key=usage,
            kind="level",
            names=_names(
                [usage, *(USAGE_LABELS[usage].render(lang) for lang in LANGS)],
                USAGE_COLUMN_SYNONYMS[usage],
            ),
            title=normalise_label(QUESTIONS[usage]),
            keywords=(USAGE_COLUMN_KEYWORDS[usage],) if keywords else (),
        )
        for usage in USAGES
    ]


def _person_fields(id_names: Iterable[str] = ()) -> list[Field]:
    syn = RESPONDENT_COLUMN_SYNONYMS
    return [
        Field("respondent_id", "id", _names(syn["respondent_id"], id_names)),
        Field("age_band", "age", _names(syn["age_band"]), keywords=(("age", "ans"),)),
        Field("gender", "gender", _names(syn["gender"]), keywords=(("genre", "sexe", "gender"),)),
        Field(
            "csp",
            "csp",
            _names(syn["csp"]),
            keywords=(("csp", "pcs", "socio professionnelle", "socioprofessionnelle"),),
        ),
    ]


def _location_fields() -> list[Field]:
    words: dict[str, tuple[tuple[str, ...], ...]] = {
        "lon": (("longitude",),),
        "lat": (("latitude",),),
        "address": (("adresse", "address"),),
        "postcode": (("code postal", "postcode"),),
    }
    fields = [
        Field(key, "location", _names(LOCATION_COLUMN_SYNONYMS[key]), keywords=words.get(key, ()))
        for key in LOCATION_COLUMNS
    ]
    # The home's OSM building, as located answers give it (``qet survey synthesize`` writes it):
    # kept with the locations, by its exact name only. Not one of LOCATION_COLUMNS, which
    # locate_homes geocodes: a building key needs no geocoding.
    return [*fields, Field("building_key", "location", _names(["building_key"]))]


def _mdv_fields() -> list[Field]:
    fields: list[Field] = []
    for key, title in {**MDV_EASE, **MDV_SATISFACTION}.items():
        fields.append(
            Field(
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
            Field(
                f"{purpose}_mode",
                "mode",
                _names([f"{purpose}_mode", f"transport_mode_to_{near[purpose]}"]),
                keywords=(words, mode_words),
            )
        )
        fields.append(
            Field(
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
            Field(
                f"{purpose}_zone",
                "zone",
                _names([f"{purpose}_zone", near_zone[purpose]]),
                keywords=(words, zone_words),
            )
        )
    for topic in CHANGE_TOPICS:
        near_names = CHANGE_TOPIC_WORDS[topic]
        fields.append(
            Field(
                f"change_{topic}",
                "willingness",
                _names([f"change_{topic}", near_names[0]]),
                keywords=(near_names[2:], ("changer", "reduire", "envie", "souhait", "change")),
            )
        )
        fields.append(
            Field(
                f"change_{topic}_reasons",
                "reasons",
                _names([f"change_{topic}_reasons", near_names[1]]),
                keywords=(near_names[2:], ("raison", "raisons", "pourquoi", "reason", "reasons")),
            )
        )
    return fields


def _ngc_fields() -> list[Field]:
    return [
        Field(
            key,
            "kgco2e",
            _names([key], NGC_COLUMN_SYNONYMS[key], NGC_COLUMN_TITLES.get(key, ())),
        )
        for key in NGC_COLUMNS
    ]


def split_unit(norm: str) -> tuple[str, Literal["kg", "t"] | None]:
    """Split a normalised NGC header into its name and the unit it states ("kg", "t" or None)."""
    found = _UNIT_SUFFIX.search(norm)
    if not found or found.start() == 0:
        return norm, None
    unit: Literal["kg", "t"] = "kg" if found["unit"].startswith("kg") else "t"
    return norm[: found.start()].strip(), unit


def survey_fields(kind: str) -> list[Field]:
    people = _person_fields()
    if kind == "su":
        return [*people, *_su_fields(keywords=True), *_location_fields()]
    if kind == "mdv":
        return [*people, *_mdv_fields(), *_su_fields(keywords=False), *_location_fields()]
    return [*_person_fields(NGC_ID_SYNONYMS), *_ngc_fields(), *_su_fields(keywords=False)]


def _score(header: str, spec: Field) -> tuple[int, int]:
    """How well a header names a field: (tier, strength); tier 0 means not at all."""
    norm = normalise_label(header)
    if spec.kind == "kgco2e":
        norm = split_unit(norm)[0]
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


def match_columns(
    header: list[str], fields: list[Field], *, forced: Mapping[str, str] | None, source: SourceName
) -> dict[int, Field]:
    by_key = {f.key: f for f in fields}
    assigned: dict[int, Field] = {}
    if forced:
        for name, key in forced.items():
            if key not in by_key:
                raise ValidationError(
                    msg(
                        "columns associe {name!r} à {key!r}, qui n'est pas un champ de cette "
                        "enquête ; utilisez l'un de {keys}.",
                        name=name,
                        key=key,
                        keys=sorted(by_key),
                    )
                )
            positions = [i for i, h in enumerate(header) if h == name]
            if not positions:
                raise ValidationError(
                    msg(
                        "columns cite {name!r}, qui n'est pas un en-tête de {source} ; ses "
                        "en-têtes sont {header}.",
                        name=name,
                        source=source,
                        header=header,
                    )
                )
            assigned[positions[0]] = by_key[key]
    taken = {f.key for f in assigned.values()}
    candidates: list[tuple[tuple[int, int], int, Field]] = []
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
                msg(
                    "{source} : les colonnes {names} ressemblent toutes à {key!r} ; renommez les "
                    "autres ou passez columns={{{first!r}: {key!r}}}.",
                    source=source,
                    names=names,
                    key=spec.key,
                    first=names[0],
                )
            )
        assigned[i] = spec
        taken.add(spec.key)
    return dict(sorted(assigned.items()))


def no_column_error(table: Table, kind: str) -> ValidationError:
    others = {
        other: [
            table.header[i]
            for i, spec in match_columns(
                table.header, survey_fields(other), forced=None, source=table.source
            ).items()
            if spec.kind not in ("id", "age", "gender", "csp", "location")
        ]
        for other in ("su", "mdv", "ngc")
        if other != kind
    }
    readers = {"su": "read_su", "mdv": "read_mdv", "ngc": "read_ngc"}
    hint: Msg | str = ""
    for other, cols in others.items():
        if len(cols) >= 2:
            hint = msg(
                " Il ressemble à un fichier {kind} : lisez-le avec {reader}.",
                kind=other.upper(),
                reader=readers[other],
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
        msg(
            "{source} : aucune colonne {kind} reconnue parmi {shown} ; attendu "
            "{expected}. Renommez les en-têtes ou passez columns={{en-tête: clé}}.{hint}",
            source=table.source,
            kind=kind.upper(),
            shown=shown,
            expected=expected,
            hint=hint,
        ),
        path=table.source
        if isinstance(table.source, str) and Path(table.source).exists()
        else None,
    )


def check_columns(columns: Mapping[str, str] | None) -> None:
    """Check the ``columns=`` option of a reader: file headers to field keys."""
    if columns is not None and (
        not isinstance(columns, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in columns.items())
    ):
        raise ValidationError(
            msg(
                "columns doit associer des en-têtes du fichier à des clés de champ, par exemple "
                "{{'Viande': 'meat_frequency'}}."
            )
        )
