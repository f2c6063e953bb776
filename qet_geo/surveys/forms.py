"""The SU and MdV/EdV questionnaires as XLSForm workbooks, ready for KoboToolbox or ODK.

A pilot team that runs the QeT surveys without NEAR's platform needs the questionnaires in the
usual form tools. :func:`xlsform` writes one as an XLSForm (``survey``, ``choices`` and
``settings`` sheets; French and English labels, French by default) generated from the survey
schema (:mod:`qet_geo.surveys.schema`), so that the form asks exactly what the readers
(:func:`~qet_geo.surveys.su.read_su`, :func:`~qet_geo.surveys.mdv.read_mdv`) read:

- each question's ``name`` is the field key the reader knows (``meat_frequency``,
  ``easy_walking``, ``food_mode``...), each choice's ``name`` a value the reader maps (NEAR's
  enum names for the SU levels, the schema's keys elsewhere); an export with *XML values and
  headers* (KoboToolbox) or the plain CSV export of ODK Central is read as it is;
- an export with labels is read too, the labels being the schema's own (NEAR's French titles);
- several reasons (``select_multiple``) arrive in one column separated by spaces, which the
  MdV reader reads.

The home is asked as an address (street and number, postcode, town) and, optionally, a point
placed on the map (``geopoint``): both are personal data that the store coarsens to 200 m cells
at upload (``docs/privacy.md``). :func:`form_questions` gives the rows the workbook holds, for
the tests and the kit's page.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from qet_geo._files import stable_xlsx
from qet_geo.errors import ValidationError
from qet_geo.i18n import Msg, msg
from qet_geo.surveys.schema import (
    AGE_BANDS,
    CHANGE_REASONS,
    CHANGE_TOPICS,
    CSP_LABELS,
    LEVEL_LABELS,
    MDV_EASE,
    MDV_SATISFACTION,
    QUESTIONS,
    TIME_BAND_LABELS,
    TIME_BANDS,
    TRAVEL_MODE_LABELS,
    TRAVEL_MODES,
    TRIP_PURPOSES,
    USAGES,
    WILLINGNESS,
    WILLINGNESS_LABELS,
    YES_NO,
    YES_NO_LABELS,
)

__all__ = ["FORM_KINDS", "FormChoice", "FormQuestion", "form_questions", "xlsform"]

#: The questionnaires written as forms.
FORM_KINDS: tuple[str, ...] = ("su", "mdv")

#: The XLSForm column headers of the labels, per language (French first: the default).
_LABEL_COLUMNS: Mapping[str, str] = {"fr": "label::Français (fr)", "en": "label::English (en)"}
_HINT_COLUMNS: Mapping[str, str] = {"fr": "hint::Français (fr)", "en": "hint::English (en)"}

#: The SU levels' choice names: NEAR's enum names, level 1 (lowest carbon) first.
_LEVEL_NAMES: Mapping[str, tuple[str, str, str]] = {
    "meat_frequency": ("minor", "regular", "major"),
    "transportation_mode": ("light", "public", "car"),
    "digital_intensity": ("light", "regular", "intense"),
    "purchasing_strategy": ("second_hand", "mixed", "new"),
    "air_travel_frequency": ("zero", "from_1_to_3", "above_3"),
    "heat_source": ("electricity", "gaz", "oil"),
}

#: Age bands' choice names (XML names: no "+" nor leading digit issues), read back as the bands.
_AGE_NAMES: Mapping[str, str] = {
    "15-29": "from_15_to_29",
    "30-44": "from_30_to_44",
    "45-59": "from_45_to_59",
    "60-74": "from_60_to_74",
    "75+": "above_75",
}

#: Time bands' choice names: NEAR's enum names.
_TIME_NAMES: Mapping[str, str] = {
    "<10": "less_than_10_min",
    "10-20": "between_10_and_20_min",
    "20-30": "between_20_and_30_min",
    "30-45": "between_30_and_45_min",
    ">45": "above_45_min",
}

#: Travel modes' choice names where the schema's key would not do ("none" reads as no answer).
_MODE_NAMES: Mapping[str, str] = {"none": "none_i_dont_move"}

_PURPOSE_QUESTIONS: Mapping[str, tuple[Msg, Msg, Msg]] = {
    "food": (
        msg("Pour vos courses alimentaires, quel moyen de transport utilisez-vous le plus ?"),
        msg("Combien de temps dure ce trajet (aller) ?"),
        msg("Où faites-vous le plus souvent vos courses alimentaires (quartier, commune) ?"),
    ),
    "work": (
        msg("Pour aller au travail ou aux études, quel moyen de transport utilisez-vous le plus ?"),
        msg("Combien de temps dure ce trajet (aller) ?"),
        msg("Où travaillez-vous ou étudiez-vous (quartier, commune) ?"),
    ),
    "leisure": (
        msg("Pour vos loisirs, quel moyen de transport utilisez-vous le plus ?"),
        msg("Combien de temps dure ce trajet (aller) ?"),
        msg("Où pratiquez-vous le plus souvent vos loisirs (quartier, commune) ?"),
    ),
}

_CHANGE_QUESTIONS: Mapping[str, tuple[Msg, Msg]] = {
    "car": (
        msg("Aimeriez-vous moins utiliser la voiture ?"),
        msg("Qu'est-ce qui vous retient de moins utiliser la voiture ?"),
    ),
    "meat": (
        msg("Aimeriez-vous manger moins de viande et de poisson ?"),
        msg("Qu'est-ce qui vous retient de manger moins de viande ?"),
    ),
    "local_food": (
        msg("Aimeriez-vous acheter davantage de produits locaux et de saison ?"),
        msg("Qu'est-ce qui vous retient d'acheter local et de saison ?"),
    ),
    "second_hand": (
        msg("Aimeriez-vous acheter davantage d'occasion ?"),
        msg("Qu'est-ce qui vous retient d'acheter d'occasion ?"),
    ),
}


@dataclass(frozen=True)
class FormChoice:
    """One answer of a choice list: its XML name (what an export writes) and its label."""

    name: str
    label: Msg


@dataclass(frozen=True)
class FormQuestion:
    """One row of the XLSForm's ``survey`` sheet (a question, a note or a calculation)."""

    type: str
    name: str
    label: Msg | None = None
    hint: Msg | None = None
    required: bool = False
    relevant: str = ""
    calculation: str = ""
    choices: tuple[FormChoice, ...] = field(default=())

    @property
    def list_name(self) -> str:
        """The choice list's name (``select_one <list>``), empty for other types."""
        parts = self.type.split()
        return parts[1] if len(parts) == 2 and parts[0].startswith("select_") else ""


def _select(
    kind: Literal["one", "multiple"],
    name: str,
    label: Msg,
    choices: Sequence[FormChoice],
    *,
    required: bool = True,
    relevant: str = "",
    hint: Msg | None = None,
) -> FormQuestion:
    return FormQuestion(
        type=f"select_{kind} {name}_choices",
        name=name,
        label=label,
        hint=hint,
        required=required,
        relevant=relevant,
        choices=tuple(choices),
    )


def _person() -> list[FormQuestion]:
    ages = [
        FormChoice(
            _AGE_NAMES[b],
            msg("{age} ans et plus", age=b[:-1])
            if b.endswith("+")
            else msg("De {low} à {high} ans", low=b.split("-")[0], high=b.split("-")[1]),
        )
        for b in AGE_BANDS
    ]
    genders = [
        FormChoice("F", msg("Femme")),
        FormChoice("M", msg("Homme")),
        FormChoice("other", msg("Autre ou ne souhaite pas répondre")),
    ]
    csps = [FormChoice(code, label) for code, label in CSP_LABELS.items()]
    return [
        FormQuestion(type="calculate", name="respondent_id", calculation="uuid()"),
        _select("one", "age_band", msg("Quel âge avez-vous ?"), ages),
        _select("one", "gender", msg("Quel est votre genre ?"), genders),
        _select(
            "one",
            "csp",
            msg("Quelle est votre catégorie socio-professionnelle ?"),
            csps,
            hint=msg("Les personnes retraitées choisissent « Retraités »."),
        ),
    ]


def _home() -> list[FormQuestion]:
    why = msg(
        "Pour relier vos usages aux distances du quartier. L'adresse n'est jamais publiée : "
        "elle est ramenée à un carreau de 200 m dès l'envoi."
    )
    # no group: an export names a grouped question by its path ("home/address"), which the
    # readers would not know
    return [
        FormQuestion(type="note", name="home_note", label=msg("Votre logement")),
        FormQuestion(type="text", name="address", label=msg("Adresse (numéro et rue)"), hint=why),
        FormQuestion(type="text", name="postcode", label=msg("Code postal")),
        FormQuestion(type="text", name="city", label=msg("Commune")),
        FormQuestion(
            type="geopoint",
            name="home_point",
            label=msg("Ou placez votre logement sur la carte (facultatif)"),
        ),
    ]


def _su() -> list[FormQuestion]:
    usages = [
        _select(
            "one",
            usage,
            msg("{question}", question=QUESTIONS[usage]),
            [
                FormChoice(name, LEVEL_LABELS[usage][level])
                for level, name in enumerate(_LEVEL_NAMES[usage], start=1)
            ],
        )
        for usage in USAGES
    ]
    return [*_person(), *usages, *_home()]


def _mdv() -> list[FormQuestion]:
    yes_no = [FormChoice(k, YES_NO_LABELS[k]) for k in YES_NO]
    # "none" would read as no answer: NEAR's enum name of it instead
    modes = [FormChoice(_MODE_NAMES.get(k, k), TRAVEL_MODE_LABELS[k]) for k in TRAVEL_MODES]
    times = [FormChoice(_TIME_NAMES[k], TIME_BAND_LABELS[k]) for k in TIME_BANDS]
    willing = [FormChoice(k, WILLINGNESS_LABELS[k]) for k in WILLINGNESS]
    reasons = [FormChoice(k, label) for k, label in CHANGE_REASONS.items()]
    rows: list[FormQuestion] = [*_person()]
    rows.append(FormQuestion(type="note", name="ease_note", label=msg("Se déplacer")))
    rows += [
        _select("one", key, msg("{question}", question=title), yes_no)
        for key, title in MDV_EASE.items()
    ]
    rows.append(FormQuestion(type="note", name="offer_note", label=msg("L'offre du quartier")))
    rows += [
        _select("one", key, msg("{question}", question=title), yes_no)
        for key, title in MDV_SATISFACTION.items()
    ]
    for purpose in TRIP_PURPOSES:
        mode_q, time_q, zone_q = _PURPOSE_QUESTIONS[purpose]
        rows += [
            _select("one", f"{purpose}_mode", mode_q, modes),
            _select(
                "one",
                f"{purpose}_time_band",
                time_q,
                times,
                relevant=f"${{{purpose}_mode}} != '{_MODE_NAMES['none']}'",
            ),
            FormQuestion(
                type="text",
                name=f"{purpose}_zone",
                label=zone_q,
                relevant=f"${{{purpose}_mode}} != '{_MODE_NAMES['none']}'",
            ),
        ]
    for topic in CHANGE_TOPICS:
        wish, why = _CHANGE_QUESTIONS[topic]
        rows += [
            _select("one", f"change_{topic}", wish, willing),
            _select(
                "multiple",
                f"change_{topic}_reasons",
                why,
                reasons,
                required=False,
                relevant=f"${{change_{topic}}} = 'no' or ${{change_{topic}}} = 'wish_but_cannot'",
            ),
        ]
    return [*rows, *_home()]


def form_questions(kind: str) -> list[FormQuestion]:
    """The rows of the ``survey`` sheet of the questionnaire ``kind`` ("su" or "mdv")."""
    if kind == "su":
        return _su()
    if kind == "mdv":
        return _mdv()
    raise ValidationError(
        msg(
            "questionnaire inconnu {kind!r} ; choisissez parmi {kinds}.",
            kind=kind,
            kinds=list(FORM_KINDS),
        )
    )


_TITLES: Mapping[str, Msg] = {
    "su": msg("Quartiers en Transitions : profils d'usages (SU)"),
    "mdv": msg("Quartiers en Transitions : modes et espaces de vie (MdV/EdV)"),
}


def xlsform(
    kind: str, *, version: str, when: datetime.datetime = datetime.datetime(2026, 12, 1)
) -> bytes:
    """The questionnaire ``kind`` as an XLSForm workbook (``.xlsx`` bytes).

    Labels and hints in French (the form's default language) and English; ``version`` is
    written in the settings (KoboToolbox and ODK show it and keep it with each answer); ``when``
    is the workbook's date (the same bytes for the same form and date).
    """
    from openpyxl import Workbook

    questions = form_questions(kind)
    book = Workbook()
    survey = book.active
    assert survey is not None  # a new workbook has one sheet
    survey.title = "survey"
    langs = list(_LABEL_COLUMNS)
    survey.append(
        [
            "type",
            "name",
            *(_LABEL_COLUMNS[lang] for lang in langs),
            *(_HINT_COLUMNS[lang] for lang in langs),
            "required",
            "relevant",
            "calculation",
        ]
    )
    for q in questions:
        survey.append(
            [
                q.type,
                q.name,
                *((q.label.render(lang) if q.label else "") for lang in langs),
                *((q.hint.render(lang) if q.hint else "") for lang in langs),
                "yes" if q.required else "",
                q.relevant,
                q.calculation,
            ]
        )
    choices = book.create_sheet("choices")
    choices.append(["list_name", "name", *(_LABEL_COLUMNS[lang] for lang in langs)])
    for q in questions:
        for choice in q.choices:
            choices.append(
                [q.list_name, choice.name, *(choice.label.render(lang) for lang in langs)]
            )
    settings = book.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language"])
    settings.append([_TITLES[kind].render("fr"), f"qet_{kind}", version, "Français (fr)"])
    return stable_xlsx(book, when)
