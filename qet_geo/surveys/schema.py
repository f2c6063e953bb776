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

from qet_geo.i18n import Msg, msg

__all__ = [
    "AGE_BANDS",
    "CHANGE_REASONS",
    "CHANGE_REASON_SYNONYMS",
    "CHANGE_TOPICS",
    "CHANGE_TOPIC_WORDS",
    "CSP_LABELS",
    "CSP_SYNONYMS",
    "DIFFERENTIATING_USAGES",
    "GENDERS",
    "GENDER_SYNONYMS",
    "LEVEL_LABELS",
    "LEVEL_SYNONYMS",
    "LOCATION_COLUMNS",
    "LOCATION_COLUMN_SYNONYMS",
    "MDV_COLUMN_SYNONYMS",
    "MDV_EASE",
    "MDV_SATISFACTION",
    "NEAR_KGCO2E",
    "NGC_CATEGORIES",
    "NGC_COLUMNS",
    "NGC_COLUMN_SYNONYMS",
    "NGC_COLUMN_TITLES",
    "NGC_ID_SYNONYMS",
    "NGC_SUBCATEGORIES",
    "QUESTIONS",
    "RESPONDENT_COLUMN_SYNONYMS",
    "TIME_BANDS",
    "TIME_BAND_LABELS",
    "TIME_BAND_SYNONYMS",
    "TRAVEL_MODES",
    "TRAVEL_MODE_LABELS",
    "TRAVEL_MODE_SYNONYMS",
    "TRIP_PURPOSES",
    "TRIP_PURPOSE_WORDS",
    "USAGES",
    "USAGE_COLUMN_KEYWORDS",
    "USAGE_COLUMN_SYNONYMS",
    "USAGE_LABELS",
    "WILLINGNESS",
    "WILLINGNESS_LABELS",
    "WILLINGNESS_SYNONYMS",
    "YES_NO",
    "YES_NO_LABELS",
    "YES_NO_SYNONYMS",
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
USAGE_LABELS: Mapping[str, Msg] = {
    "meat_frequency": msg("Alimentation (viande)"),
    "transportation_mode": msg("Mobilité quotidienne"),
    "digital_intensity": msg("Numérique"),
    "purchasing_strategy": msg("Achats"),
    "air_travel_frequency": msg("Avion"),
    "heat_source": msg("Chauffage"),
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

#: Answer labels per usage and level (French as in NEAR's export), level 1 lowest carbon.
LEVEL_LABELS: Mapping[str, Mapping[int, Msg]] = {
    "meat_frequency": {
        1: msg("Aucun repas ou très rarement"),
        2: msg("Quelques repas"),
        3: msg("Tous les repas ou presque"),
    },
    "transportation_mode": {
        1: msg("Mobilités actives (vélo, marche)"),
        2: msg("Transport en commun"),
        3: msg("Voiture individuelle"),
    },
    "digital_intensity": {
        1: msg("Faible"),
        2: msg("Bureautique, Internet"),
        3: msg("Jeux vidéos, streaming, vidéos"),
    },
    "purchasing_strategy": {
        1: msg("Occasion en priorité"),
        2: msg("Mélange occasion/neuf"),
        3: msg("Achat de neuf systématiquement"),
    },
    "air_travel_frequency": {
        1: msg("0"),
        2: msg("1 à 3"),
        3: msg("Plus de 3"),
    },
    "heat_source": {
        1: msg("Électricité, réseau de chaleur"),
        2: msg("Gaz"),
        3: msg("Fioul"),
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
CSP_LABELS: Mapping[str, Msg] = {
    "CS1": msg("Agriculteurs exploitants"),
    "CS2": msg("Artisans, commerçants, chefs d'entreprise"),
    "CS3": msg("Cadres et professions intellectuelles supérieures"),
    "CS4": msg("Professions intermédiaires"),
    "CS5": msg("Employés"),
    "CS6": msg("Ouvriers"),
    "CS7": msg("Retraités"),
    "CS8": msg("Autres personnes sans activité professionnelle"),
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


# --------------------------------------------------------------------------------------------------
# Synonyms used to read SU files (column headers and answers), for the readers of qet_geo.surveys
# (su, mdv, ngc).
# Keys and values are compared after normalise_label(); NEAR's database enum names are included so
# that a NEAR export (``meatFrequency = MAJOR``) reads as well as its French survey export.

#: Normalised answer synonyms per usage: answer text → level (labels of LEVEL_LABELS are added).
LEVEL_SYNONYMS: Mapping[str, Mapping[str, int]] = {
    "meat_frequency": {
        "minor": 1,
        "regular": 2,
        "major": 3,
        "jamais": 1,
        "aucun repas": 1,
        "vegetarien": 1,
        "vegetalien": 1,
        "vegan": 1,
        "rarement": 1,
        "tous les repas": 3,
        "presque tous les repas": 3,
    },
    "transportation_mode": {
        "light": 1,
        "public": 2,
        "car": 3,
        "mobilites actives": 1,
        "marche": 1,
        "velo": 1,
        "marche, velo": 1,
        "velo, marche": 1,
        "a pied": 1,
        "walk": 1,
        "bike": 1,
        "transports en commun": 2,
        "transport collectif": 2,
        "transports collectifs": 2,
        "bus": 2,
        "tram": 2,
        "metro": 2,
        "train": 2,
        "voiture": 3,
        "voiture personnelle": 3,
        "automobile": 3,
    },
    "digital_intensity": {
        "light": 1,
        "regular": 2,
        "intense": 3,
        "faible utilisation": 1,
        "bureautique": 2,
        "internet": 2,
        "jeux videos": 3,
        "streaming": 3,
    },
    "purchasing_strategy": {
        "second_hand": 1,
        "second hand": 1,
        "mixed": 2,
        "new": 3,
        "occasion": 1,
        "seconde main": 1,
        "melange": 2,
        "mixte": 2,
        "neuf": 3,
        "achat de neuf": 3,
    },
    "air_travel_frequency": {
        "zero": 1,
        "from_1_to_3": 2,
        "above_3": 3,
        "jamais": 1,
        "aucun": 1,
        "aucune fois": 1,
        "0 fois": 1,
        "never": 1,
        "1-3": 2,
        "1 a 3 fois": 2,
        "entre 1 et 3": 2,
        "plus de 3 fois": 3,
        "plus de trois": 3,
        "more than 3 times": 3,
        "> 3": 3,
        ">3": 3,
    },
    "heat_source": {
        "electricity": 1,
        "gaz": 2,
        "oil": 3,
        "electricite": 1,
        "electrique": 1,
        "reseau de chaleur": 1,
        "chauffage urbain": 1,
        "pompe a chaleur": 1,
        "gaz naturel": 2,
        "gas": 2,
        "fuel": 3,
        "mazout": 3,
        "fioul domestique": 3,
    },
}

#: Normalised header synonyms of the SU usage columns (besides the usage key and QUESTIONS).
USAGE_COLUMN_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "meat_frequency": ("meatfrequency", "viande", "meat", "frequence viande"),
    "transportation_mode": (
        "transportationmode",
        "mobilite",
        "mobilite quotidienne",
        "mode de transport",
        "daily mobility",
    ),
    "digital_intensity": ("digitalintensity", "usage numerique", "utilisation du numerique"),
    "purchasing_strategy": ("purchasingstrategy", "achats", "purchases", "strategie d'achat"),
    "air_travel_frequency": ("airtravelfrequency", "avion", "vols", "flights"),
    "heat_source": ("heatsource", "energie de chauffage", "source de chauffage"),
}

#: Header words that point to an SU usage column when no exact name matches; weaker than the
#: names above, since NGC and MdV files use some of them for other questions.
USAGE_COLUMN_KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "meat_frequency": ("viande", "meat", "alimentation", "repas"),
    "transportation_mode": ("transport", "mobilite", "deplacement"),
    "digital_intensity": ("numerique", "digital"),
    "purchasing_strategy": ("achats", "achat", "purchases", "consommation"),
    "air_travel_frequency": ("avion", "vols", "flights", "plane"),
    "heat_source": ("chauffage", "heating"),
}

#: Normalised header synonyms of the respondent id and the socio-demographic columns.
RESPONDENT_COLUMN_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "respondent_id": (
        "respondent_id",
        "respondent",
        "identifiant",
        "id",
        "id repondant",
        "repondant",
        "numero",
        "n°",
        "external_id",
        "externalid",
        "response id",
        "reponse id",
    ),
    "age_band": (
        "age_band",
        "age",
        "tranche d'age",
        "tranche age",
        "classe d'age",
        "age_category",
        "agecategory",
        "quel age avez-vous",
        "quel est votre age",
    ),
    "gender": ("gender", "genre", "sexe", "sex", "vous etes"),
    "csp": (
        "csp",
        "pcs",
        "categorie socio-professionnelle",
        "categorie socioprofessionnelle",
        "professional_category",
        "professionalcategory",
        "profession",
        "quelle est votre categorie socio-professionnelle",
    ),
}

#: Normalised gender answers → :data:`GENDERS`.
GENDER_SYNONYMS: Mapping[str, str] = {
    "f": "F",
    "femme": "F",
    "feminin": "F",
    "female": "F",
    "woman": "F",
    "w": "F",
    "madame": "F",
    "mme": "F",
    "h": "M",
    "m": "M",
    "homme": "M",
    "masculin": "M",
    "male": "M",
    "man": "M",
    "monsieur": "M",
    "autre": "other",
    "other": "other",
    "non-binaire": "other",
    "non binaire": "other",
    "nb": "other",
    "x": "other",
}

#: Normalised socio-professional answers → "CS1".."CS8" (the labels of CSP_LABELS are added).
CSP_SYNONYMS: Mapping[str, str] = {
    "agriculteur": "CS1",
    "agricultrice": "CS1",
    "artisan": "CS2",
    "commercant": "CS2",
    "chef d'entreprise": "CS2",
    "cadre": "CS3",
    "profession liberale": "CS3",
    "profession intermediaire": "CS4",
    "technicien": "CS4",
    "employe": "CS5",
    "employee": "CS5",
    "ouvrier": "CS6",
    "ouvriere": "CS6",
    "retraite": "CS7",
    "retraitee": "CS7",
    "retired": "CS7",
    "etudiant": "CS8",
    "etudiante": "CS8",
    "student": "CS8",
    "sans emploi": "CS8",
    "chomeur": "CS8",
    "au foyer": "CS8",
    "sans activite": "CS8",
}

# --------------------------------------------------------------------------------------------------
# MdV / EdV: "modes de vie" and "espaces de vie" (ways of life, living spaces).
#
# The canonical MdV frame is indexed by ``respondent_id`` (str) with, when the file has them:
# - the yes/no questions of MDV_EASE and MDV_SATISFACTION as pandas categoricals of YES_NO;
# - for each purpose of TRIP_PURPOSES: ``{purpose}_mode`` (categorical of TRAVEL_MODES),
#   ``{purpose}_time_band`` (ordered categorical of TIME_BANDS) and ``{purpose}_zone`` (string);
# - for each topic of CHANGE_TOPICS: ``change_{topic}`` (ordered categorical of WILLINGNESS) and
#   ``change_{topic}_reasons`` (string: keys of CHANGE_REASONS joined by ";");
# - the SU usages (Int8 levels) and age_band, gender, csp when the file carries them too.

#: Answers to the yes/no questions ("don't know" is an answer, not a missing value).
YES_NO: tuple[str, ...] = ("yes", "no", "dont_know")

#: Labels of YES_NO.
YES_NO_LABELS: Mapping[str, Msg] = {
    "yes": msg("Oui"),
    "no": msg("Non"),
    "dont_know": msg("Je ne sais pas"),
}

#: Normalised yes/no answers → YES_NO (labels of YES_NO_LABELS are added).
YES_NO_SYNONYMS: Mapping[str, str] = {
    "oui": "yes",
    "o": "yes",
    "y": "yes",
    "1": "yes",
    "true": "yes",
    "vrai": "yes",
    "plutot oui": "yes",
    "non": "no",
    "n": "no",
    "0": "no",
    "false": "no",
    "faux": "no",
    "plutot non": "no",
    "nsp": "dont_know",
    "ne sait pas": "dont_know",
    "je ne sais pas": "dont_know",
    "dont know": "dont_know",
    "don't know": "dont_know",
    "dont_know": "dont_know",
    "sans avis": "dont_know",
}

#: Ease questions (yes/no): key → French title.
MDV_EASE: Mapping[str, str] = {
    "easy_walking": "Est-il facile de se déplacer à pied dans le quartier ?",
    "easy_cycling": "Est-il facile de se déplacer à vélo dans le quartier ?",
    "easy_transit": "Est-il facile de se déplacer en transports en commun ?",
    "easy_leaving_by_transit": "Est-il facile de sortir de la ville en transports en commun ?",
}

#: Satisfaction questions (yes/no: is the offer near home satisfying?): key → French title.
MDV_SATISFACTION: Mapping[str, str] = {
    "satisfied_markets": "Êtes-vous satisfait des marchés du quartier ?",
    "satisfied_organic_seasonal_food": "Êtes-vous satisfait de l'offre bio et de saison ?",
    "satisfied_repair_shops": "Êtes-vous satisfait des réparateurs du quartier ?",
    "satisfied_second_hand_shops": "Êtes-vous satisfait des boutiques de seconde main ?",
    "satisfied_local_shops": "Les commerces de proximité répondent-ils à vos besoins ?",
    "satisfied_public_services": "Êtes-vous satisfait des services publics du quartier ?",
}

#: Normalised header synonyms of the MdV yes/no columns (NEAR's database names included).
MDV_COLUMN_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "easy_walking": ("easywalking", "facile a pied", "marche facile", "ease of walking"),
    "easy_cycling": ("easy_bicycle", "easybicycle", "facile a velo", "ease of cycling"),
    "easy_transit": (
        "easy_public_transports",
        "easypublictransports",
        "facile en transports en commun",
        "ease of transit",
    ),
    "easy_leaving_by_transit": (
        "easy_to_leave_city_with_transports",
        "easytoleavecitywithtranports",
        "sortir de la ville en transports en commun",
        "leave town by transit",
    ),
    "satisfied_markets": (
        "neighborhood_organic_market_satisfaction",
        "marches",
        "satisfaction marches",
        "markets",
    ),
    "satisfied_organic_seasonal_food": (
        "neighborhood_season_fruits_and_vegetables_satisfaction",
        "neighborhood_organic_product_satisfaction",
        "bio et de saison",
        "produits bio",
        "fruits et legumes de saison",
        "organic seasonal food",
    ),
    "satisfied_repair_shops": (
        "electronic_repair_shop_satisfaction",
        "bicycle_repair_shop_satisfaction",
        "clothes_repair_shop_satisfaction",
        "reparateurs",
        "repair shops",
    ),
    "satisfied_second_hand_shops": (
        "second_hand_shop_satisfaction",
        "seconde main",
        "second hand shops",
    ),
    "satisfied_local_shops": (
        "local_shops_to_meet_your_needs",
        "commerces de proximite",
        "local shops",
    ),
    "satisfied_public_services": (
        "public_service_presence",
        "services publics",
        "public services",
    ),
}

#: Purposes of the trips asked about in MdV.
TRIP_PURPOSES: tuple[str, ...] = ("food", "work", "leisure")

#: French and NEAR words naming each trip purpose in a header.
TRIP_PURPOSE_WORDS: Mapping[str, tuple[str, ...]] = {
    "food": ("food", "courses", "alimentaires", "buy_food", "buyfood", "food_market"),
    "work": ("work", "travail", "emploi"),
    "leisure": ("leisure", "loisirs", "hobby", "hobbies"),
}

#: Travel modes of the MdV trips.
TRAVEL_MODES: tuple[str, ...] = (
    "walk",
    "bike",
    "shared_bike",
    "transit",
    "car",
    "electric_car",
    "taxi",
    "none",
)

#: Labels of TRAVEL_MODES.
TRAVEL_MODE_LABELS: Mapping[str, Msg] = {
    "walk": msg("À pied"),
    "bike": msg("Vélo personnel"),
    "shared_bike": msg("Vélo en libre-service"),
    "transit": msg("Transports en commun"),
    "car": msg("Voiture"),
    "electric_car": msg("Voiture électrique"),
    "taxi": msg("Taxi, VTC"),
    "none": msg("Aucun, je ne me déplace pas"),
}

#: Normalised mode answers → TRAVEL_MODES (labels of TRAVEL_MODE_LABELS are added).
TRAVEL_MODE_SYNONYMS: Mapping[str, str] = {
    "walking": "walk",
    "marche": "walk",
    "a pied": "walk",
    "pied": "walk",
    "personal_bicycle": "bike",
    "velo": "bike",
    "bicycle": "bike",
    "shared_bicycle": "shared_bike",
    "velo partage": "shared_bike",
    "public_transport": "transit",
    "transport en commun": "transit",
    "bus": "transit",
    "tram": "transit",
    "metro": "transit",
    "train": "transit",
    "voiture individuelle": "car",
    "voiture thermique": "car",
    "electric_car": "electric_car",
    "taxi_vtc": "taxi",
    "taxi": "taxi",
    "vtc": "taxi",
    "none_i_dont_move": "none",
    "aucun": "none",
}

#: Travel time bands, in minutes.
TIME_BANDS: tuple[str, ...] = ("<10", "10-20", "20-30", "30-45", ">45")

#: Labels of TIME_BANDS.
TIME_BAND_LABELS: Mapping[str, Msg] = {
    "<10": msg("Moins de 10 min"),
    "10-20": msg("Entre 10 et 20 min"),
    "20-30": msg("Entre 20 et 30 min"),
    "30-45": msg("Entre 30 et 45 min"),
    ">45": msg("Plus de 45 min"),
}

#: Normalised time answers → TIME_BANDS (labels of TIME_BAND_LABELS are added).
TIME_BAND_SYNONYMS: Mapping[str, str] = {
    "less_than_10_min": "<10",
    "< 10": "<10",
    "< 10 min": "<10",
    "<10 min": "<10",
    "moins de 10 minutes": "<10",
    "between_10_and_20_min": "10-20",
    "10-20 min": "10-20",
    "10 a 20 min": "10-20",
    "de 10 a 20 min": "10-20",
    "between_20_and_30_min": "20-30",
    "20-30 min": "20-30",
    "20 a 30 min": "20-30",
    "de 20 a 30 min": "20-30",
    "between_30_and_45_min": "30-45",
    "30-45 min": "30-45",
    "30 a 45 min": "30-45",
    "de 30 a 45 min": "30-45",
    "above_45_min": ">45",
    "> 45": ">45",
    "> 45 min": ">45",
    ">45 min": ">45",
    "plus de 45 minutes": ">45",
}

#: Willingness to change a habit, ordered from "no" to "already does it".
WILLINGNESS: tuple[str, ...] = ("no", "wish_but_cannot", "wish_planned", "already")

#: Labels of WILLINGNESS.
WILLINGNESS_LABELS: Mapping[str, Msg] = {
    "no": msg("Non"),
    "wish_but_cannot": msg("J'aimerais mais je ne peux pas"),
    "wish_planned": msg("J'aimerais et c'est prévu"),
    "already": msg("Oui, je le fais déjà"),
}

#: Normalised willingness answers → WILLINGNESS (labels and NEAR's enum names).
WILLINGNESS_SYNONYMS: Mapping[str, str] = {
    "non": "no",
    "no": "no",
    "i_wish_but_cant": "wish_but_cannot",
    "j'aimerais mais je ne peux pas": "wish_but_cannot",
    "i_wish_and_it_is_plan": "wish_planned",
    "c'est prevu": "wish_planned",
    "yes_i_do": "already",
    "oui": "already",
    "je le fais deja": "already",
    "deja": "already",
}

#: Habits whose willingness to change is asked.
CHANGE_TOPICS: tuple[str, ...] = ("car", "meat", "local_food", "second_hand")

#: Header words of CHANGE_TOPICS (NEAR's database names included).
CHANGE_TOPIC_WORDS: Mapping[str, tuple[str, ...]] = {
    "car": ("want_to_reduce_car_usage", "reasons_to_continue_using_car", "voiture", "car"),
    "meat": ("want_to_reduce_meat_and_fish", "reasons_to_eat_meat", "viande", "meat"),
    "local_food": (
        "prefer_buy_french_and_season_food",
        "reasons_to_not_buy_french_and_season_food",
        "local",
        "saison",
        "season",
    ),
    "second_hand": (
        "prefer_second_and",
        "reasons_to_not_chose_second_hand",
        "seconde main",
        "occasion",
        "second hand",
    ),
}

#: Reasons given for not changing: key → labels. Several can be given, separated by ";" or ","
#: (or by spaces between the keys themselves, as form tools export a multiple choice).
CHANGE_REASONS: Mapping[str, Msg] = {
    "no_transit_nearby": msg("Pas de transport en commun à proximité"),
    "no_offer_nearby": msg("Pas d'offre à proximité"),
    "price": msg("Prix"),
    "time": msg("Manque de temps"),
    "work": msg("Mon travail"),
    "health": msg("Santé, handicap"),
    "safety": msg("Sécurité"),
    "need_sometimes": msg("J'en ai besoin pour certains trajets"),
    "image": msg("Image personnelle ou professionnelle"),
    "trust": msg("Manque de confiance"),
    "skills": msg("Manque de compétences"),
    "family": msg("Ma famille"),
    "alternatives_unknown": msg("Je ne connais pas les alternatives"),
    "not_concerned": msg("Pas concerné"),
    "other": msg("Autre"),
}

#: Normalised reason answers → CHANGE_REASONS (labels and NEAR's enum names are added).
CHANGE_REASON_SYNONYMS: Mapping[str, str] = {
    "no_public_transport_at_proximity": "no_transit_nearby",
    "pas de transports en commun a proximite": "no_transit_nearby",
    "pas de transport en commun": "no_transit_nearby",
    "no_offer_at_proximity": "no_offer_nearby",
    "pas d'offre": "no_offer_nearby",
    "pas d'offre pres de chez moi": "no_offer_nearby",
    "i_dont_know_market": "no_offer_nearby",
    "cout": "price",
    "trop cher": "price",
    "time_consuming": "time",
    "temps": "time",
    "my_work": "work",
    "travail": "work",
    "handicap_reasons": "health",
    "handicap": "health",
    "sante": "health",
    "security_reasons": "safety",
    "securite": "safety",
    "i_need_car_for_some_actions": "need_sometimes",
    "professional_or_personal_image": "image",
    "competencies": "skills",
    "my_family_eat_meat": "family",
    "i_dont_know_alternatives": "alternatives_unknown",
    "i_dont_trust_alternatives": "trust",
    "not_concerned": "not_concerned",
    "non concerne": "not_concerned",
    "autre": "other",
}

# --------------------------------------------------------------------------------------------------
# NosGestesClimat (CC) results: kgCO2e per year per category, as NGC's model names them.

#: The NGC categories imported, in kgCO2e/yr; the sub-categories sum to at most their category.
NGC_CATEGORIES: tuple[str, ...] = (
    "alimentation",
    "transport",
    "logement",
    "divers",
    "services_societaux",
)

#: Sub-categories imported, each with its parent category.
NGC_SUBCATEGORIES: Mapping[str, str] = {
    "transport_avion": "transport",
    "transport_voiture": "transport",
    "transport_commun": "transport",
    "logement_chauffage": "logement",
    "divers_numerique": "divers",
    "divers_textile": "divers",
}

#: Every NGC column of the canonical frame: the total (NGC's ``bilan``), categories, sub-categories.
NGC_COLUMNS: tuple[str, ...] = ("total", *NGC_CATEGORIES, *NGC_SUBCATEGORIES)

#: Normalised header synonyms of NGC_COLUMNS: NGC rule names and NEAR's database names.
NGC_COLUMN_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "total": ("bilan", "total", "empreinte", "global_note", "globalnote", "footprint"),
    "alimentation": ("alimentation", "food"),
    "transport": ("transport", "transports", "transportation"),
    "logement": ("logement", "housing"),
    "divers": ("divers", "misc"),
    "services_societaux": (
        "services societaux",
        "services_societaux",
        "services_societal",
        "servicessocietal",
        "services publics et marchands",
    ),
    "transport_avion": ("transport . avion", "avion", "transportation_plane", "plane"),
    "transport_voiture": ("transport . voiture", "voiture", "transportation_car", "car"),
    "transport_commun": (
        "transport . transports commun",
        "transport . transport commun",
        "transports commun",
        "transports en commun",
        "transportation_public_transport",
        "public transport",
    ),
    "logement_chauffage": ("logement . chauffage", "chauffage", "logement_heating", "heating"),
    "divers_numerique": ("divers . numerique", "numerique", "divers_digital", "digital"),
    "divers_textile": ("divers . textile", "textile", "divers_textile"),
}

#: French titles of NGC's results pages and exports, besides NGC_COLUMN_SYNONYMS (normalised). A
#: header may end with its unit: "Empreinte totale (t)", "Avion (kg CO2e / an)".
NGC_COLUMN_TITLES: Mapping[str, tuple[str, ...]] = {
    "total": ("empreinte totale", "empreinte carbone", "empreinte carbone totale", "bilan carbone"),
    "services_societaux": ("services societaux", "services publics et services marchands"),
    "transport_commun": ("transports en commun", "transport en commun", "transports collectifs"),
    "logement_chauffage": ("energie logement", "energie du logement", "chauffage et eau chaude"),
    "divers_textile": ("vetements", "habillement"),
}

#: Normalised headers of the respondent id in NGC exports, besides RESPONDENT_COLUMN_SYNONYMS:
#: NGC identifies a simulation or a user.
NGC_ID_SYNONYMS: tuple[str, ...] = ("user_id", "userid", "simulation_id", "simulationid")

# --------------------------------------------------------------------------------------------------
# Where a respondent lives: the columns a survey file may carry to locate homes. They are personal
# data: readers keep them apart from the answers (SurveyRead.locations) and qet_geo.privacy drops
# them once the homes are geocoded and coarsened to 200 m cells.

#: Location fields a survey file may carry, in the order they are tried to locate a home.
LOCATION_COLUMNS: tuple[str, ...] = (
    "lon",
    "lat",
    "x",
    "y",
    "cell_id",
    "iris_code",
    "address",
    "housenumber",
    "street",
    "postcode",
    "city",
)

#: Normalised header synonyms of LOCATION_COLUMNS.
LOCATION_COLUMN_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "lon": ("lon", "longitude", "lng", "long"),
    "lat": ("lat", "latitude"),
    "x": ("x", "x_l93", "coord_x"),
    "y": ("y", "y_l93", "coord_y"),
    "cell_id": ("cell_id", "carreau", "idcar_200m", "id_carreau", "id_car2010", "idinspire"),
    "iris_code": ("iris_code", "iris", "code iris", "code_iris", "dcomiris"),
    "address": ("address", "adresse", "adresse postale", "votre adresse"),
    "housenumber": ("housenumber", "numero de rue", "numero de voie", "n° de rue", "num_voie"),
    "street": ("street", "rue", "voie", "nom de rue", "nom de la voie"),
    "postcode": ("postcode", "code postal", "cp", "code_postal"),
    "city": ("city", "ville", "commune"),
}
