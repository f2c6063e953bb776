"""The expected effect of a project in kgCO2e a year, with its assumptions in words.

Two ways, both honest about what they assume:

- ``"diagnostic"``: from the neighbourhood's latest release. The saving per person where a built
  constraint of the targeted usage is lifted (the release's margin of manoeuvre of that usage:
  ``figures["links"]["fr"]["votes"]``, its ``built`` part, a mean over the neighbourhood's
  residents, never more than the usage's mean footprint ``figures["footprints"][usage]``), times
  the share of residents the project reaches (the shares of the usage profiles concerned,
  ``figures["profile_shares"]``, or a share the team gives), times the neighbourhood's
  population (its homes, ``figures["access"]["homes"]``, times :data:`PERSONS_PER_HOME`, or a
  number the team gives).
- ``"factor"``: a documented factor the team types (kgCO2e per unit, a number of units a year,
  and where the factor comes from).

The result is rounded to the precision of its inputs (two significant figures at most, fewer
when the team typed fewer), and withheld, with the reason in words, when the release has no
figure for the usage (or no margin of manoeuvre, or no homes) rather than guessed. The release
gives the usage's margin without an interval: ``low`` and ``high`` are then None and the
assumptions say so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from qet_geo.i18n import LANGS, Msg, msg, number
from qet_geo.surveys.schema import USAGE_LABELS, USAGES

__all__ = ["EFFECT_METHODS", "PERSONS_PER_HOME", "expected_effect", "significant"]

#: The ways of computing an effect.
EFFECT_METHODS = ("diagnostic", "factor")
#: Persons per home when the team gives no population (INSEE, France, 2020 census: 2.2
#: persons per household).
PERSONS_PER_HOME = 2.2
#: The languages the assumptions are written in.
#: Significant figures at most.
MAX_DIGITS = 2


def significant(value: float, digits: int = MAX_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant figures (0 stays 0)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _digits_of(value: float) -> int:
    """The significant figures a typed number carries (``0.3`` → 1, ``250`` → 2, ``1200`` → 2)."""
    text = f"{abs(value):.10g}".lower()
    if "e" in text:
        text = text.split("e")[0]
    digits = text.replace(".", "").lstrip("0")
    if "." not in text:
        digits = digits.rstrip("0")
    return max(1, len(digits))


def _words(items: Iterable[Msg]) -> dict[str, list[str]]:
    listed = list(items)
    return {lang: [m.render(lang) for m in listed] for lang in LANGS}


def _withheld(reason: Msg, method: str) -> dict[str, Any]:
    return {
        "status": "withheld",
        "method": method,
        "value": None,
        "low": None,
        "high": None,
        "reason": {lang: reason.render(lang) for lang in LANGS},
        "assumptions": {lang: [] for lang in LANGS},
    }


def _positive(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


def expected_effect(
    figures: Mapping[str, Any] | None,
    *,
    method: str = "diagnostic",
    usage: str | None = None,
    profiles: Iterable[Any] = (),
    reach_share: float | None = None,
    population: float | None = None,
    factor: float | None = None,
    units: float | None = None,
    source: str = "",
) -> dict[str, Any]:
    """The expected effect of a project, in kgCO2e avoided a year.

    Parameters
    ----------
    figures
        The published figures of the neighbourhood's latest release
        (:meth:`qet_geo.store.releases.Figures.as_json`), None without a release.
    method
        ``"diagnostic"`` or ``"factor"`` (:data:`EFFECT_METHODS`).
    usage
        The usage targeted (one of ``USAGES``).
    profiles
        The usage profiles concerned, by the number the pages give them ("Profil 1" is key
        ``"0"`` of ``figures["profile_shares"]``).
    reach_share
        The share of residents the project reaches (0 to 1), instead of the profiles'.
    population
        The neighbourhood's residents, instead of its homes × :data:`PERSONS_PER_HOME`.
    factor, units, source
        For ``"factor"``: kgCO2e avoided per unit, units a year, where the factor comes from.

    Returns
    -------
    dict
        ``status`` ("ok" or "withheld"), ``method``, ``value``, ``low``, ``high`` (kgCO2e a
        year, rounded; low and high None without an interval), ``assumptions`` (``{"fr": [...],
        "en": [...]}``, in words), ``reason`` when withheld (``{"fr", "en"}``) and ``inputs``
        (the numbers used) when computed.
    """
    if method == "factor":
        return _by_factor(factor, units, source)
    if method != "diagnostic":
        return _withheld(msg("Méthode de calcul inconnue."), method)
    if usage not in USAGES:
        return _withheld(
            msg("Choisissez l'usage que le projet vise pour estimer son effet."), method
        )
    label = USAGE_LABELS[usage]
    if not figures:
        return _withheld(
            msg(
                "Le diagnostic du quartier n'a pas encore de résultats publiés : l'effet attendu "
                "ne peut pas en être tiré (saisissez un facteur documenté)."
            ),
            method,
        )
    footprints = figures.get("footprints") or {}
    footprint = footprints.get(usage)
    if footprint is None:
        return _withheld(
            msg(
                "Les résultats publiés n'ont pas de chiffre pour l'usage « {usage} » : l'effet "
                "attendu n'est pas estimé (saisissez un facteur documenté).",
                usage=label,
            ),
            method,
        )
    links = figures.get("links") or {}
    rows = (links.get("fr") or {}).get("votes") or [] if links.get("status") == "ok" else []
    built = next((r.get("built") for r in rows if r.get("usage") == usage), None)
    if built is None:
        return _withheld(
            msg(
                "Les résultats publiés n'ont pas de marge de manœuvre pour l'usage « {usage} » "
                "(liens entre usages et bâti non calculés) : l'effet attendu n'est pas estimé "
                "(saisissez un facteur documenté).",
                usage=label,
            ),
            method,
        )
    saving = min(float(built), float(footprint))
    if saving <= 0:
        return _withheld(
            msg(
                "Le diagnostic ne trouve pas de marge de manœuvre liée au bâti pour l'usage "
                "« {usage} » : l'effet attendu n'est pas estimé de cette façon (saisissez un "
                "facteur documenté).",
                usage=label,
            ),
            method,
        )
    assumptions: list[Msg] = [
        msg(
            "Empreinte moyenne de l'usage « {usage} » dans le quartier : {footprint} kgCO2e par "
            "personne et par an (dernière publication du diagnostic).",
            usage=label,
            footprint=number(significant(float(footprint), 3), decimals=0),
        ),
        msg(
            "Économie par habitant si les contraintes du bâti de cet usage sont levées : "
            "{saving} kgCO2e par an (la marge de manœuvre du diagnostic, moyenne sur les "
            "habitants du quartier).",
            saving=number(significant(saving), decimals=None),
        ),
    ]
    digits = MAX_DIGITS
    chosen = [str(p) for p in profiles]
    if reach_share is not None:
        if not (0 < reach_share <= 1):
            return _withheld(
                msg("La part des habitants touchés doit être comprise entre 0 et 100 %."), method
            )
        share = float(reach_share)
        digits = min(digits, _digits_of(share * 100))
        assumptions.append(
            msg(
                "Part des habitants que le projet touche : {share} %, donnée par l'équipe.",
                share=number(share * 100),
            )
        )
    elif chosen:
        shares = figures.get("profile_shares") or {}
        # the pages name profile key k "Profil k+1": the team types the names' numbers
        keys = {p: str(int(p) - 1) if p.isdigit() and int(p) > 0 else p for p in chosen}
        missing = [p for p in chosen if keys[p] not in shares]
        if missing:
            return _withheld(
                msg(
                    "Les résultats publiés n'ont pas la part du profil {profile} : l'effet "
                    "attendu n'est pas estimé (donnez la part des habitants touchés).",
                    profile=missing[0],
                ),
                method,
            )
        share = min(sum(float(shares[keys[p]]) for p in chosen), 1.0)
        assumptions.append(
            msg(
                "Part des habitants que le projet touche : {share} %, celle des profils "
                "d'usages concernés ({profiles}) dans le diagnostic.",
                share=number(significant(share * 100), decimals=None),
                profiles=", ".join(chosen),
            )
        )
    else:
        return _withheld(
            msg(
                "Dites quels profils d'usages le projet concerne, ou la part des habitants qu'il "
                "touche, pour estimer son effet."
            ),
            method,
        )
    if population is not None:
        if not _positive(population):
            return _withheld(msg("Le nombre d'habitants doit être positif."), method)
        people = float(population)
        digits = min(digits, _digits_of(people))
        assumptions.append(
            msg(
                "Habitants du quartier : {people}, nombre donné par l'équipe.",
                people=number(people),
            )
        )
    else:
        homes = (figures.get("access") or {}).get("homes")
        if not homes:
            return _withheld(
                msg(
                    "Les résultats publiés ne comptent pas les logements du quartier : donnez le "
                    "nombre d'habitants pour estimer l'effet."
                ),
                method,
            )
        people = float(homes) * PERSONS_PER_HOME
        assumptions.append(
            msg(
                "Habitants du quartier : {homes} logements × {persons} personnes par logement "
                "(moyenne française, INSEE), soit environ {people}.",
                homes=number(int(homes)),
                persons=number(PERSONS_PER_HOME),
                people=number(significant(people), decimals=0),
            )
        )
    value = significant(saving * share * people, digits)
    assumptions += [
        msg(
            "Chaque habitant touché économiserait autant que la marge moyenne du quartier ; le "
            "projet lèverait les contraintes du bâti pour eux et ils changeraient leurs "
            "pratiques en conséquence."
        ),
        msg(
            "Pas d'intervalle : les résultats publiés donnent la marge de cet usage sans "
            "intervalle. Le chiffre est un ordre de grandeur, arrondi à {digits} chiffres "
            "significatifs au plus, pas une mesure.",
            digits=digits,
        ),
    ]
    return {
        "status": "ok",
        "method": method,
        "value": value,
        "low": None,
        "high": None,
        "assumptions": _words(assumptions),
        "inputs": {
            "usage": usage,
            "footprint": float(footprint),
            "saving_per_person": saving,
            "share": share,
            "population": people,
        },
    }


def _by_factor(factor: float | None, units: float | None, source: str) -> dict[str, Any]:
    method = "factor"
    if not _positive(factor) or not _positive(units):
        return _withheld(
            msg(
                "Donnez le facteur (kgCO2e évités par unité) et le nombre d'unités par an, tous "
                "deux positifs."
            ),
            method,
        )
    assert factor is not None and units is not None
    source = source.strip()
    if not source:
        return _withheld(
            msg("Dites d'où vient le facteur (une source que le public peut vérifier)."), method
        )
    digits = min(MAX_DIGITS, _digits_of(factor), _digits_of(units))
    value = significant(factor * units, digits)
    assumptions = [
        msg(
            "Facteur documenté par l'équipe : {factor} kgCO2e évités par unité, {units} unités "
            "par an. Source : {source}.",
            factor=number(factor),
            units=number(units),
            source=source[:500],
        ),
        msg(
            "Pas d'intervalle : le facteur est donné sans incertitude. Le chiffre est un ordre "
            "de grandeur, arrondi à {digits} chiffres significatifs au plus.",
            digits=digits,
        ),
    ]
    return {
        "status": "ok",
        "method": method,
        "value": value,
        "low": None,
        "high": None,
        "assumptions": _words(assumptions),
        "inputs": {"factor": float(factor), "units": float(units), "source": source[:500]},
    }
