"""Scenarios: a built constraint lifted for every home, declared rather than coded.

A :class:`Scenario` names one change of a home indicator (:class:`Change`: cap a distance, floor
a frequency...) and the further changes made with it; :func:`qet_geo.analysis.margins.margins_of_manoeuvre`
estimates what the neighbourhood would save under each. :data:`DEFAULT_SCENARIOS` follows the
method's constraint table (``docs/method.md``, "Built constraints").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
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
from qet_geo.i18n import Msg, msg

__all__ = ["DEFAULT_SCENARIOS", "MISSING_DATA", "OPERATIONS", "Change", "Scenario"]

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
    label
        What the scenario means, for people (rendered in the reader's language).
    also
        Further changes made at the same time (e.g. at least 6 departures an hour).
    requires
        Indicators the scenario means nothing without: when the run has no value of one for
        any home (no GTFS timetable: departures per hour unknown), the margins leave the
        scenario out and say why (:data:`MISSING_DATA`).

    Examples
    --------
    >>> Scenario("shop_5min", "food_shop_min", "cap", 5.0,
    ...          label=msg("Un commerce alimentaire à moins de 5 minutes de chaque logement"))
    Scenario(name='shop_5min', ...)  # doctest: +SKIP
    """

    name: str
    indicator: str
    operation: Operation
    value: float
    label: Msg
    also: tuple[Change, ...] = field(default=())
    requires: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError(
                msg("Un scénario doit avoir un nom, reçu {name!r}.", name=self.name)
            )
        _check_change(self.indicator, self.operation, self.value)
        if not all(isinstance(c, Change) for c in self.also):
            raise ValidationError(
                msg("Scénario {name!r} : 'also' doit être un tuple de Change.", name=self.name)
            )
        if not all(isinstance(r, str) and r in self.indicators for r in self.requires):
            raise ValidationError(
                msg(
                    "Scénario {name!r} : 'requires' doit nommer des indicateurs que le scénario "
                    "modifie ({indicators}).",
                    name=self.name,
                    indicators=", ".join(self.indicators),
                )
            )

    @property
    def changes(self) -> tuple[Change, ...]:
        """Every change of the scenario, the main one first."""
        return (Change(self.indicator, self.operation, self.value), *self.also)

    @property
    def indicators(self) -> tuple[str, ...]:
        """The indicators the scenario changes."""
        return tuple(dict.fromkeys(c.indicator for c in self.changes))


def _check_change(indicator: object, operation: object, value: object) -> None:
    if not isinstance(indicator, str) or not indicator:
        raise ValidationError(
            msg(
                "Une modification demande un nom d'indicateur (une colonne de la table d'accès), "
                "reçu {indicator!r}.",
                indicator=indicator,
            )
        )
    if operation not in OPERATIONS:
        raise ValidationError(
            msg(
                "Opération {operation!r} inconnue sur {indicator} : utilisez {operations}.",
                operation=operation,
                indicator=indicator,
                operations=", ".join(OPERATIONS),
            )
        )
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValidationError(
            msg(
                "La valeur de la modification de {indicator} doit être un nombre, reçu {value!r}.",
                indicator=indicator,
                value=value,
            )
        )


#: What a run lacks when an indicator is unknown for every home, for the scenarios that require it
#: (the reason the margins give for leaving them out); other indicators are named by their label.
MISSING_DATA: Mapping[str, Msg] = MappingProxyType(
    {
        DEPARTURES: msg(
            "le nombre de départs par heure aux arrêts n'est connu qu'avec les horaires d'un flux "
            "GTFS (ajoutez celui du réseau avec --gtfs pour estimer ce scénario)"
        ),
    }
)

#: Scenarios tied to the method's constraint table. A scenario whose required data the run lacks
#: (frequent stops without a GTFS timetable) is left out and said so; a change no model uses (no
#: railway station within reach) is skipped and named.
DEFAULT_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "frequent_transit",
        nearest_m("transit_stop"),
        "cap",
        300.0,
        label=msg(
            "Chaque logement à moins de 300 m d'un arrêt fréquent (au moins 6 départs par heure)"
        ),
        also=(Change(DEPARTURES, "floor", 6.0),),
        requires=(DEPARTURES,),
    ),
    Scenario(
        "food_shop_5min",
        nearest_min("food_shop"),
        "cap",
        5.0,
        label=msg("Un commerce alimentaire à moins de 5 minutes de chaque logement"),
    ),
    Scenario(
        "market_10min",
        nearest_min("market"),
        "cap",
        10.0,
        label=msg("Un marché à moins de 10 minutes de chaque logement"),
    ),
    Scenario(
        "second_hand_repair_10min",
        nearest_min("second_hand_repair"),
        "cap",
        10.0,
        label=msg(
            "Une boutique d'occasion ou un atelier de réparation à moins de 10 minutes de chaque logement"
        ),
    ),
    Scenario(
        "local_shop_5min",
        nearest_min("local_shop"),
        "cap",
        5.0,
        label=msg("Un commerce de proximité à moins de 5 minutes de chaque logement"),
    ),
    Scenario(
        "cycle_network",
        CYCLE_KM,
        "floor",
        2.0,
        label=msg(
            "Au moins 2 km d'aménagements cyclables à moins de {radius:g} m de chaque logement",
            radius=CYCLE_RADIUS_M,
        ),
    ),
    Scenario(
        "rail_station_15min",
        nearest_min("rail_station"),
        "cap",
        15.0,
        label=msg("Une gare à moins de 15 minutes de chaque logement"),
    ),
)
