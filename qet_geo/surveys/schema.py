"""The survey schemas: the SU ("Sphères / Profils d'Usages") questions, their ordered levels, and
NEAR's kgCO2e scale; the socio-demographic fields used for quotas.

This module is the contract every survey, profile and footprint module reads: an SU answer table is
a DataFrame indexed by ``respondent_id`` with one column per usage of :data:`USAGES` holding the
ordered level 1, 2 or 3 (pandas ``Int8``, ``<NA>`` when unanswered), and optional ``age_band``,
``gender`` and ``csp`` columns. Level 1 is always the lowest-carbon answer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

__all__ = [
    "AGE_BANDS",
    "CSP_LABELS",
    "DIFFERENTIATING_USAGES",
    "GENDERS",
    "LEVEL_LABELS",
    "NEAR_KGCO2E",
    "QUESTIONS",
    "USAGES",
    "USAGE_LABELS",
    "normalise_label",
]

#: The six usages of the SU survey, in NEAR's order.
USAGES: tuple[str, ...] = (
    "meat_frequency",
    "transportation_mode",
    "digital_intensity",
    "purchasing_strategy",
    "air_travel_frequency",
    "heat_source",
)

#: The five usages the published method names as differentiating (NEAR adds heating).
DIFFERENTIATING_USAGES: tuple[str, ...] = USAGES[:5]

#: Usage names shown to people.
USAGE_LABELS: Mapping[str, Mapping[str, str]] = {
    "fr": {
        "meat_frequency": "Alimentation (viande)",
        "transportation_mode": "Mobilité quotidienne",
        "digital_intensity": "Numérique",
        "purchasing_strategy": "Achats",
        "air_travel_frequency": "Avion",
        "heat_source": "Chauffage",
    },
    "en": {
        "meat_frequency": "Food (meat)",
        "transportation_mode": "Daily mobility",
        "digital_intensity": "Digital",
        "purchasing_strategy": "Purchases",
        "air_travel_frequency": "Flights",
        "heat_source": "Heating",
    },
}

#: The SU questions as NEAR's export titles them (French), to recognise the columns.
QUESTIONS: Mapping[str, str] = {
    "meat_frequency": "Lors de vos repas, la viande est présente dans...",
    "transportation_mode": "Quel moyen de transport employez-vous le plus fréquemment dans la "
    "semaine ?",
    "digital_intensity": "Quelle est votre utilisation du numérique",
    "purchasing_strategy": "Lorsque vous avez besoin de quelque chose, vous favorisez",
    "air_travel_frequency": "Combien de fois prenez-vous l'avion par an ?",
    "heat_source": "Quelle est l'énergie de chauffage de votre logement ?",
}

#: Answer labels per usage and level (French as in NEAR's export; English), level 1 lowest carbon.
LEVEL_LABELS: Mapping[str, Mapping[int, Mapping[str, str]]] = {
    "meat_frequency": {
        1: {"fr": "Aucun repas ou très rarement", "en": "None or very rarely"},
        2: {"fr": "Quelques repas", "en": "Some meals"},
        3: {"fr": "Tous les repas ou presque", "en": "(Almost) all meals"},
    },
    "transportation_mode": {
        1: {"fr": "Mobilités actives (vélo, marche)", "en": "Active (walk, bike)"},
        2: {"fr": "Transport en commun", "en": "Public transport"},
        3: {"fr": "Voiture individuelle", "en": "Private car"},
    },
    "digital_intensity": {
        1: {"fr": "Faible", "en": "Low"},
        2: {"fr": "Bureautique, Internet", "en": "Office, internet"},
        3: {"fr": "Jeux vidéos, streaming, vidéos", "en": "Games, streaming, video"},
    },
    "purchasing_strategy": {
        1: {"fr": "Occasion en priorité", "en": "Second hand first"},
        2: {"fr": "Mélange occasion/neuf", "en": "Mixed"},
        3: {"fr": "Achat de neuf systématiquement", "en": "Always new"},
    },
    "air_travel_frequency": {
        1: {"fr": "0", "en": "0"},
        2: {"fr": "1 à 3", "en": "1 to 3"},
        3: {"fr": "Plus de 3", "en": "More than 3"},
    },
    "heat_source": {
        1: {"fr": "Électricité, réseau de chaleur", "en": "Electricity, heat network"},
        2: {"fr": "Gaz", "en": "Gas"},
        3: {"fr": "Fioul", "en": "Fuel oil"},
    },
}

#: NEAR's production table: kgCO2e per year for each usage and level.
NEAR_KGCO2E: Mapping[str, Mapping[int, float]] = {
    "meat_frequency": {1: 200.0, 2: 1000.0, 3: 2000.0},
    "transportation_mode": {1: 0.0, 2: 300.0, 3: 2300.0},
    "digital_intensity": {1: 90.0, 2: 180.0, 3: 360.0},
    "purchasing_strategy": {1: 400.0, 2: 800.0, 3: 1600.0},
    "air_travel_frequency": {1: 0.0, 2: 800.0, 3: 2000.0},
    "heat_source": {1: 200.0, 2: 1100.0, 3: 1600.0},
}

#: Age bands of the SU survey (and of the census quotas).
AGE_BANDS: tuple[str, ...] = ("15-29", "30-44", "45-59", "60-74", "75+")

#: Genders recorded (census quotas use F and M; "other" is kept, never forced into one).
GENDERS: tuple[str, ...] = ("F", "M", "other")

#: INSEE socio-professional categories (PCS 2003, level 1, "CS1".."CS8").
CSP_LABELS: Mapping[str, Mapping[str, str]] = {
    "fr": {
        "CS1": "Agriculteurs exploitants",
        "CS2": "Artisans, commerçants, chefs d'entreprise",
        "CS3": "Cadres et professions intellectuelles supérieures",
        "CS4": "Professions intermédiaires",
        "CS5": "Employés",
        "CS6": "Ouvriers",
        "CS7": "Retraités",
        "CS8": "Autres personnes sans activité professionnelle",
    },
    "en": {
        "CS1": "Farmers",
        "CS2": "Craftspeople, shopkeepers, business owners",
        "CS3": "Managers and higher intellectual professions",
        "CS4": "Intermediate professions",
        "CS5": "Clerical and service workers",
        "CS6": "Manual workers",
        "CS7": "Retired",
        "CS8": "Others without professional activity",
    },
}

_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s,;.()]+$")


def normalise_label(text: str) -> str:
    """Fold a free label for matching: no accents, lower case, straight apostrophes, single
    spaces, no trailing punctuation ("électricité, réseau de chaleur," → "electricite, reseau de
    chaleur"; "Mobilités actives (vélo, marche" → "mobilites actives (velo, marche").
    """
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("’", "'").replace("`", "'").replace("\u00a0", " ").lower()
    text = _SPACES.sub(" ", text).strip()
    return _TRAILING.sub("", text)
