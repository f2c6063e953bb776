"""Scenarios: a built constraint lifted for every home, declared rather than coded.

A :class:`Scenario` names one change of a home indicator (:class:`Change`: cap a distance, floor
a frequency...) and the further changes made with it; :func:`qet_geo.analysis.margins.margins_of_manoeuvre`
estimates what the neighbourhood would save under each. :data:`DEFAULT_SCENARIOS` follows the
method's constraint table (``docs/method.md``, "Built constraints").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from qet_geo.constraints.indicators import (
    CYCLE_KM,
    CYCLE_RADIUS_M,
    DEPARTURES,
    nearest_m,
    nearest_min,
)
from qet_geo.errors import ValidationError
from qet_geo.i18n import Lang

__all__ = ["DEFAULT_SCENARIOS", "OPERATIONS", "Change", "Scenario"]

#: Operations a :class:`Change` may make: cap (at most the value: distances, times), floor (at
#: least the value: frequencies, cycle lanes), set (exactly the value), scale (times the value).
OPERATIONS: tuple[str, ...] = ("cap", "floor", "set", "scale")

Operation = Literal["cap", "floor", "set", "scale"]


@dataclass(frozen=True)
class Change:
    """One change of a home indicator: ``operation`` by ``value``.

    Attributes
    ----------
    indicator
        A column of the access table ("transit_stop_m", "food_shop_min").
    operation
        cap (at most ``value``), floor (at least ``value``), set (exactly ``value``) or scale
        (times ``value``).
    value
        In the indicator's unit (m, min, departures per hour, km).
    """

    indicator: str
    operation: Operation
    value: float

    def __post_init__(self) -> None:
        _check_change(self.indicator, self.operation, self.value)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Return ``values`` changed (a new array)."""
        if self.operation == "cap":
            return np.minimum(values, self.value)
        if self.operation == "floor":
            return np.maximum(values, self.value)
        if self.operation == "set":
            return np.full_like(values, self.value, dtype=float)
        return values * self.value


@dataclass(frozen=True)
class Scenario:
    """A constraint lifted for every home of the neighbourhood, declared, not coded.

    Attributes
    ----------
    name
        Short identifier ("frequent_transit").
    indicator, operation, value
        The main change (see :class:`Change`): e.g. "transit_stop_m", "cap", 300.0 for "every
        home within 300 m of a stop".
    label_fr, label_en
        What the scenario means, for people.
    also
        Further changes made at the same time (e.g. at least 6 departures an hour).

    Examples
    --------
    >>> Scenario("shop_5min", "food_shop_min", "cap", 5.0,
    ...          label_fr="Un commerce alimentaire à 5 min", label_en="A food shop within 5 min")
    Scenario(name='shop_5min', ...)  # doctest: +SKIP
    """

    name: str
    indicator: str
    operation: Operation
    value: float
    label_fr: str
    label_en: str
    also: tuple[Change, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError(
                f"A scenario needs a name, got {self.name!r}.",
                message_fr=f"Un scénario doit avoir un nom, reçu {self.name!r}.",
            )
        _check_change(self.indicator, self.operation, self.value)
        if not all(isinstance(c, Change) for c in self.also):
            raise ValidationError(
                f"Scenario {self.name!r}: 'also' must be a tuple of Change.",
                message_fr=f"Scénario {self.name!r} : 'also' doit être un tuple de Change.",
            )

    @property
    def changes(self) -> tuple[Change, ...]:
        """Every change of the scenario, the main one first."""
        return (Change(self.indicator, self.operation, self.value), *self.also)

    @property
    def indicators(self) -> tuple[str, ...]:
        """The indicators the scenario changes."""
        return tuple(dict.fromkeys(c.indicator for c in self.changes))

    def label(self, lang: Lang = "fr") -> str:
        """Return the label in ``lang`` ("fr" or "en")."""
        return self.label_fr if lang == "fr" else self.label_en


def _check_change(indicator: object, operation: object, value: object) -> None:
    if not isinstance(indicator, str) or not indicator:
        raise ValidationError(
            f"A change needs an indicator name (a column of the access table), got {indicator!r}.",
            message_fr=f"Une modification demande un nom d'indicateur (une colonne de la table "
            f"d'accès), reçu {indicator!r}.",
        )
    if operation not in OPERATIONS:
        raise ValidationError(
            f"Unknown operation {operation!r} on {indicator}: use {', '.join(OPERATIONS)}.",
            message_fr=f"Opération {operation!r} inconnue sur {indicator} : utilisez "
            f"{', '.join(OPERATIONS)}.",
        )
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValidationError(
            f"The value of the change on {indicator} must be a number, got {value!r}.",
            message_fr=f"La valeur de la modification de {indicator} doit être un nombre, reçu "
            f"{value!r}.",
        )


#: Scenarios tied to the method's constraint table; indicators absent from the data (no GTFS
#: timetable, no railway station within reach) are skipped and said so.
DEFAULT_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "frequent_transit",
        nearest_m("transit_stop"),
        "cap",
        300.0,
        label_fr="Chaque logement à moins de 300 m d'un arrêt fréquent (au moins 6 départs par "
        "heure)",
        label_en="Every home within 300 m of a frequent stop (at least 6 departures an hour)",
        also=(Change(DEPARTURES, "floor", 6.0),),
    ),
    Scenario(
        "food_shop_5min",
        nearest_min("food_shop"),
        "cap",
        5.0,
        label_fr="Un commerce alimentaire à moins de 5 minutes de chaque logement",
        label_en="A food shop within 5 minutes of every home",
    ),
    Scenario(
        "market_10min",
        nearest_min("market"),
        "cap",
        10.0,
        label_fr="Un marché à moins de 10 minutes de chaque logement",
        label_en="A market within 10 minutes of every home",
    ),
    Scenario(
        "second_hand_repair_10min",
        nearest_min("second_hand_repair"),
        "cap",
        10.0,
        label_fr="Une boutique d'occasion ou un atelier de réparation à moins de 10 minutes de "
        "chaque logement",
        label_en="A second-hand or repair shop within 10 minutes of every home",
    ),
    Scenario(
        "local_shop_5min",
        nearest_min("local_shop"),
        "cap",
        5.0,
        label_fr="Un commerce de proximité à moins de 5 minutes de chaque logement",
        label_en="A local shop within 5 minutes of every home",
    ),
    Scenario(
        "cycle_network",
        CYCLE_KM,
        "floor",
        2.0,
        label_fr="Au moins 2 km d'aménagements cyclables à moins de "
        f"{CYCLE_RADIUS_M:g} m de chaque logement",
        label_en=f"At least 2 km of cycle lanes within {CYCLE_RADIUS_M:g} m of every home",
    ),
    Scenario(
        "rail_station_15min",
        nearest_min("rail_station"),
        "cap",
        15.0,
        label_fr="Une gare à moins de 15 minutes de chaque logement",
        label_en="A railway station within 15 minutes of every home",
    ),
)
