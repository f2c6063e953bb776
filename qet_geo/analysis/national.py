"""Cross-neighbourhood comparison: footprints, profile mixes, constraints, typology, ranks.

Every figure about respondents goes through :func:`qet_geo.privacy.safe_aggregate` with each
neighbourhood as a zone and ``leftover="suppress"``: a neighbourhood with fewer than 11
respondents (or dominated by one respondent or one profile) gets no figure, rather than being
pooled with another one. Built-constraint indicators (per home or cell, weighted by population)
are not personal data and are averaged directly.

Synthetic answers (``qet survey synthesize``: SYN- ids, a ``synthetic`` column) are never mixed
with a survey's. :func:`before_after` and :func:`before_after_moments` refuse to compare a
synthetic campaign with a real one (a "significant" change between a demonstration and a survey
means nothing); two synthetic campaigns are compared, and the result labelled
(``attrs["synthetic"]``). :func:`compare_neighbourhoods` and :func:`national_table` compare real
neighbourhoods among themselves and leave the synthetic ones out, named in
``attrs["synthetic_left_out"]``; when every neighbourhood is synthetic, they are compared as a
demonstration and the table is labelled ``attrs["synthetic"]`` True.

Examples
--------
>>> table = compare_neighbourhoods(respondents, constraints=cells)  # doctest: +SKIP
>>> deltas = before_after(year0, year1)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from qet_geo.errors import QetGeoWarning, ValidationError
from qet_geo.i18n import Msg, msg
from qet_geo.privacy import (
    DOMINANCE_SHARE,
    MIN_RESPONDENTS,
    DisclosureError,
    _mark,
    safe_aggregate,
)
from qet_geo.surveys.schema import USAGES

__all__ = [
    "ConstraintTypology",
    "before_after",
    "before_after_moments",
    "campaign_synthetic",
    "compare_neighbourhoods",
    "national_table",
]


def campaign_synthetic(frame: pd.DataFrame) -> bool:
    """Tell whether a campaign's answers are synthetic.

    True when ``attrs["synthetic"]`` says so (:func:`qet_geo.surveys.located.read_located_answers`),
    or when every row has a SYN- respondent id or a true ``synthetic`` column
    (:func:`qet_geo.surveys.synthetic.synthetic_label`).

    Raises
    ------
    ValidationError
        The frame mixes synthetic and real answers.
    """
    from qet_geo.surveys.synthetic import synthetic_label

    if bool(frame.attrs.get("synthetic", False)):
        return True
    flags = frame["synthetic"] if "synthetic" in frame.columns else None
    return synthetic_label(frame.index, flags, source=msg("la campagne"))


def _kind(synthetic: bool) -> Msg:
    if synthetic:
        return msg("synthétique (réponses générées par qet survey synthesize)")
    return msg("réelle (réponses d'enquête)")


def _refuse_mixed_campaigns(before: bool, after: bool) -> None:
    """Refuse a before/after comparison of a synthetic campaign with a real one."""
    if before == after:
        return
    raise ValidationError(
        msg(
            "la campagne d'avant est {before} et celle d'après {after} : comparer une "
            "démonstration à une enquête ne mesure aucun changement. Comparez deux campagnes "
            "d'enquête réelles (ou deux campagnes synthétiques, pour une démonstration).",
            before=_kind(before),
            after=_kind(after),
        )
    )


class ConstraintTypology(ClusterMixin, BaseEstimator):
    """Group neighbourhoods by their built constraints (k-means on standardised indicators).

    Parameters
    ----------
    n_types
        Number of types; clamped to the number of neighbourhoods at ``fit``.
    random_state
        Seed of k-means.

    Attributes
    ----------
    labels_ : ndarray of shape (n_neighbourhoods,)
        Type of each neighbourhood, numbered by increasing first indicator of the type centre.
    centres_ : DataFrame
        Mean indicators of each type, in the indicators' units.
    """

    def __init__(self, n_types: int = 3, *, random_state: int | None = 0) -> None:
        self.n_types = n_types
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: None = None) -> ConstraintTypology:
        """Find the types of the neighbourhoods (rows) from their indicators (columns)."""
        if not isinstance(X, pd.DataFrame) or X.empty:
            raise ValidationError(
                msg("X doit être un DataFrame non vide d'indicateurs par quartier.")
            )
        if isinstance(self.n_types, bool) or not isinstance(self.n_types, int) or self.n_types < 1:
            raise ValidationError(
                msg("n_types doit être un entier >= 1, reçu {n_types!r}.", n_types=self.n_types)
            )
        values = X.astype(float).fillna(X.astype(float).mean()).fillna(0.0)
        scale = values.std(ddof=0).replace(0.0, 1.0)
        z = ((values - values.mean()) / scale).to_numpy()
        k = min(self.n_types, len(values))
        raw = KMeans(n_clusters=k, n_init=10, random_state=self.random_state).fit_predict(z)
        centres = values.groupby(raw).mean()
        order = centres.iloc[:, 0].sort_values(kind="stable").index
        relabel = {old: new for new, old in enumerate(order)}
        self.labels_ = np.array([relabel[c] for c in raw], dtype=np.intp)
        self.centres_ = centres.rename(index=relabel).sort_index()
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Give each row the type with the nearest centre (in standardised units)."""
        check_is_fitted(self, "centres_")
        centres = self.centres_.to_numpy()
        scale = np.where(centres.std(axis=0) > 0, centres.std(axis=0), 1.0)
        v = X[self.centres_.columns].astype(float).to_numpy()
        d = (((v[:, None, :] - centres[None, :, :]) / scale) ** 2).sum(axis=2)
        return np.asarray(d.argmin(axis=1), dtype=np.intp)


def compare_neighbourhoods(
    respondents: pd.DataFrame,
    *,
    neighbourhood: str = "neighbourhood",
    weight: str | None = None,
    profile: str | None = "profile",
    constraints: pd.DataFrame | None = None,
    population: str = "population",
    n_types: int = 3,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Compare neighbourhoods: footprints, profile mix, constraints, typology and ranks.

    Parameters
    ----------
    respondents
        One row per respondent of every neighbourhood: ``neighbourhood``, ``{usage}_kgco2e`` and
        ``total_kgco2e`` (:func:`qet_geo.analysis.footprint.su_footprints`), the national reference
        ``profile`` of each respondent, and optionally a survey ``weight``.
    neighbourhood
        Column naming the neighbourhood.
    weight
        Column of respondent weights (e.g. post-stratification); None weighs everyone 1.
    profile
        Column of the reference profile (``national_profiles(...).predict``); None to skip.
    constraints
        Built-constraint indicators per home or cell, with ``neighbourhood`` and ``population``
        columns: averaged per neighbourhood weighted by population.
    population
        Column of ``constraints`` holding the population weight.
    n_types, random_state
        Of the :class:`ConstraintTypology` on the constraint means.

    Returns
    -------
    pandas.DataFrame
        Indexed by neighbourhood: ``n_respondents``, ``{usage}_kgco2e`` and ``total_kgco2e``
        (weighted means per person, NaN when the neighbourhood cannot be published),
        ``mix_{profile}`` shares (0 to 1), constraint means, ``type`` (typology; -1 without
        constraints) and ``rank_total_kgco2e`` (1 = lowest footprint). Marked as protected.
        A neighbourhood whose answers are synthetic (:func:`campaign_synthetic` of its rows)
        is never compared with real ones: when both are given, it is left out, named in
        ``attrs["synthetic_left_out"]`` (and a warning); when all are synthetic, they are
        compared as a demonstration and ``attrs["synthetic"]`` is True.

    Raises
    ------
    ValidationError
        A column is missing, a weight is negative, or a neighbourhood's answers mix synthetic
        and real ones.
    """
    if not isinstance(respondents, pd.DataFrame) or neighbourhood not in respondents.columns:
        raise ValidationError(
            msg(
                "respondents doit être un DataFrame avec une colonne {neighbourhood!r}.",
                neighbourhood=neighbourhood,
            )
        )
    feet = [f"{u}_kgco2e" for u in USAGES if f"{u}_kgco2e" in respondents.columns]
    if "total_kgco2e" in respondents.columns:
        feet.append("total_kgco2e")
    if not feet:
        raise ValidationError(
            msg(
                "respondents n'a aucune colonne d'empreinte (<usage>_kgco2e, total_kgco2e) : "
                "ajoutez su_footprints(answers)."
            )
        )
    w = pd.Series(1.0, index=respondents.index)
    if weight is not None:
        if weight not in respondents.columns:
            raise ValidationError(msg("pas de colonne de poids {weight!r}.", weight=weight))
        w = respondents[weight].astype(float)
        if (w < 0).any() or w.isna().any():
            raise ValidationError(msg("les poids doivent être des nombres positifs ou nuls."))
    if profile is not None and profile not in respondents.columns:
        raise ValidationError(msg("pas de colonne de profil {profile!r}.", profile=profile))
    hoods = respondents[neighbourhood].astype(str)
    labels = pd.Series(
        {h: campaign_synthetic(respondents.loc[hoods == h]) for h in sorted(hoods.unique())},
        dtype=bool,
    )
    kept, left_out, synthetic = _without_synthetic(labels.to_frame("synthetic"), labels)
    rows = hoods.isin(kept.index).to_numpy()
    out = _compare(
        respondents.loc[rows],
        w.loc[rows],
        feet,
        neighbourhood=neighbourhood,
        profile=profile,
        constraints=constraints,
        population=population,
        n_types=n_types,
        random_state=random_state,
    )
    out.attrs["synthetic"] = synthetic
    out.attrs["synthetic_left_out"] = left_out
    return out


def _compare(
    respondents: pd.DataFrame,
    w: pd.Series,
    feet: list[str],
    *,
    neighbourhood: str,
    profile: str | None,
    constraints: pd.DataFrame | None,
    population: str,
    n_types: int,
    random_state: int | None,
) -> pd.DataFrame:
    frame = pd.DataFrame({"zone": respondents[neighbourhood].astype(str), "_w": w})
    for col in feet:
        frame[f"_wx_{col}"] = respondents[col].astype(float) * w
    if profile is not None:
        frame["_profile"] = respondents[profile]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = safe_aggregate(
            frame,
            zone="zone",
            values=["_w", *(f"_wx_{c}" for c in feet)],
            profile=None if profile is None else "_profile",
            leftover="suppress",
        )
    zones = sorted(frame["zone"].unique())
    out = pd.DataFrame(index=pd.Index(zones, name=neighbourhood))
    out["n_respondents"] = table["n_respondents"].reindex(zones).fillna(0).astype(int)
    weights = table["_w_sum"].reindex(zones)
    for col in feet:
        out[col] = table[f"_wx_{col}_sum"].reindex(zones) / weights
    for c in table.columns:
        if c.startswith("share_"):
            out["mix_" + c.removeprefix("share_")] = table[c].reindex(zones)
    out["type"] = -1
    if constraints is not None:
        means = _constraint_means(constraints, neighbourhood=neighbourhood, population=population)
        means.index = means.index.astype(str)
        out = out.join(means, how="left")
        known = means.reindex(out.index).dropna(how="all")
        if len(known):
            fitted = ConstraintTypology(n_types, random_state=random_state).fit(known)
            out.loc[known.index, "type"] = fitted.labels_
    if "total_kgco2e" in out.columns:
        out["rank_total_kgco2e"] = out["total_kgco2e"].rank(method="min").astype("Int64")
    out.attrs = dict(table.attrs)  # every respondent figure above comes from ``table``
    return out


def national_table(
    released: pd.DataFrame,
    *,
    constraints: Sequence[str] = (),
    n_types: int = 3,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Compare neighbourhoods from the summaries of their latest releases: typology and ranks.

    Parameters
    ----------
    released
        One row per neighbourhood, each built from a release's summary
        (:mod:`qet_geo.store.releases`): ``n_respondents`` (11 or more), ``{usage}_kgco2e`` and
        ``total_kgco2e`` means (NaN when the release could not publish them), ``mix_{profile}``
        shares, the population-weighted ``constraints`` columns, and optionally ``synthetic``
        (True for a release of synthetic answers). Every respondent figure was protected when
        its release was made, over that release's respondents only.
    constraints
        The constraint columns the typology is fitted on.
    n_types, random_state
        Of the :class:`ConstraintTypology`.

    Returns
    -------
    pandas.DataFrame
        ``released`` with ``type`` (-1 without constraints) and ``rank_total_kgco2e`` (1 =
        lowest footprint); marked as protected. Synthetic neighbourhoods are never ranked with
        real ones: when both are given, only the real ones are compared and the synthetic ones
        are left out, named (by index) in ``attrs["synthetic_left_out"]``; when all are
        synthetic, they are compared as a demonstration and ``attrs["synthetic"]`` is True.
    """
    out, left_out, synthetic = _without_synthetic(
        released, released["synthetic"] if "synthetic" in released.columns else None
    )
    out["type"] = -1
    cols = [c for c in constraints if c in out.columns]
    if cols:
        known = out[cols].astype(float).dropna(how="all")
        if len(known):
            fitted = ConstraintTypology(n_types, random_state=random_state).fit(known)
            out.loc[known.index, "type"] = fitted.labels_
    if "total_kgco2e" in out.columns:
        out["rank_total_kgco2e"] = out["total_kgco2e"].rank(method="min").astype("Int64")
    out.attrs["synthetic"] = synthetic
    out.attrs["synthetic_left_out"] = left_out
    # each row is the summary of a release, protected when it was made
    return _mark(out, min_respondents=MIN_RESPONDENTS, dominance=DOMINANCE_SHARE)


def _without_synthetic(
    table: pd.DataFrame, flags: pd.Series | None
) -> tuple[pd.DataFrame, list[str], bool]:
    """Keep the real rows when there are some (the synthetic ones named), else all of them.

    Returns the rows to compare, the keys of the synthetic rows left out, and whether the rows
    kept are synthetic (a demonstration). A note names the rows left out.
    """
    if flags is None:
        return table.copy(), [], False
    synthetic = flags.fillna(False).astype(bool).to_numpy()
    if not synthetic.any():
        return table.copy(), [], False
    if synthetic.all():
        return table.copy(), [], True
    left_out = sorted(str(k) for k in table.index[synthetic])
    warnings.warn(
        QetGeoWarning(
            msg(
                "{n} quartier(s) aux réponses synthétiques sont laissés hors de la comparaison "
                "des quartiers réels : {names}.",
                n=len(left_out),
                names=", ".join(left_out),
            )
        ),
        stacklevel=3,
    )
    return table.loc[~synthetic].copy(), left_out, False


def _constraint_means(
    constraints: pd.DataFrame, *, neighbourhood: str, population: str
) -> pd.DataFrame:
    missing = [c for c in (neighbourhood, population) if c not in constraints.columns]
    if missing:
        raise ValidationError(msg("constraints n'a pas les colonnes {missing}.", missing=missing))
    numeric = [
        c
        for c in constraints.columns
        if c not in (neighbourhood, population, "geometry")
        and pd.api.types.is_numeric_dtype(constraints[c])
    ]
    pop = constraints[population].astype(float).clip(lower=0)
    rows = {}
    for hood, idx in constraints.groupby(neighbourhood).groups.items():
        p = pop.loc[idx]
        rows[hood] = {
            c: float(np.average(constraints.loc[idx, c].astype(float), weights=p))
            if p.sum() > 0
            else math.nan
            for c in numeric
        }
    return pd.DataFrame.from_dict(rows, orient="index", columns=numeric)


def before_after(
    before: pd.DataFrame,
    after: pd.DataFrame,
    *,
    values: Sequence[str] | None = None,
    confidence: float = 0.95,
    synthetic: tuple[bool, bool] | None = None,
) -> pd.DataFrame:
    """Give the change of each mean between two campaigns, with a confidence interval.

    The two campaigns survey different people (year 0, year 1): the interval is Welch's normal
    approximation for the difference of two independent means.

    Parameters
    ----------
    before, after
        Respondents of each campaign (one row each), e.g. with ``{usage}_kgco2e`` columns.
    values
        Columns to compare; every footprint column present in both by default.
    confidence
        Level of the interval, between 0.5 and 0.999.
    synthetic
        Whether each campaign's answers are synthetic (the store's ``Diagnostic.synthetic``);
        None reads it from the frames (:func:`campaign_synthetic`).

    Returns
    -------
    pandas.DataFrame
        Indexed by value: ``n_before``, ``n_after``, ``mean_before``, ``mean_after``,
        ``delta``, ``ci_low``, ``ci_high``. ``attrs["withheld"]`` lists the values left out
        because one respondent makes more than 85 % of their total in a campaign (rule 3); the
        total then too, since it would give the withheld usage back. ``attrs["synthetic"]`` is
        True when both campaigns are synthetic (a demonstration).

    Raises
    ------
    DisclosureError
        A campaign has fewer than 11 answers for a value (the message gives no count), or
        every value is withheld.
    ValidationError
        Bad ``values`` or ``confidence``, or one campaign is synthetic and the other real.
    """
    if not 0.5 <= confidence <= 0.999:
        raise ValidationError(
            msg(
                "confidence doit être entre 0,5 et 0,999, reçu {confidence!r}.",
                confidence=confidence,
            )
        )
    if synthetic is None:
        synthetic = (campaign_synthetic(before), campaign_synthetic(after))
    _refuse_mixed_campaigns(*synthetic)
    if values is None:
        names = [f"{u}_kgco2e" for u in USAGES] + ["total_kgco2e"]
        values = [v for v in names if v in before.columns and v in after.columns]
    missing = [v for v in values if v not in before.columns or v not in after.columns]
    if missing or not values:
        raise ValidationError(
            msg(
                "les valeurs {missing_or_list_values} ne sont pas des colonnes des deux campagnes.",
                missing_or_list_values=missing or list(values),
            )
        )
    moments: dict[str, tuple[list[float], list[float]]] = {}
    withheld = []
    for v in values:
        a = before[v].astype(float).dropna()
        b = after[v].astype(float).dropna()
        if min(len(a), len(b)) < MIN_RESPONDENTS:
            # no count in the message: a count of 1 to 10 is a figure about a small group
            raise DisclosureError(
                msg(
                    "{v} : une campagne a moins de {MIN_RESPONDENTS} réponses.",
                    v=v,
                    MIN_RESPONDENTS=MIN_RESPONDENTS,
                )
            )
        if _dominated(a) or _dominated(b):
            withheld.append(v)
            continue
        moments[v] = (
            [float(len(a)), float(a.mean()), float(a.var(ddof=1))],
            [float(len(b)), float(b.mean()), float(b.var(ddof=1))],
        )
    table = _deltas(moments, withheld, confidence=confidence)
    table.attrs["synthetic"] = bool(synthetic[0])
    return table


def _dominated(values: pd.Series) -> bool:
    """Rule 3: one respondent makes more than 85 % of the total (a single flyer's kgCO2e)."""
    total = float(values.clip(lower=0).sum())
    return total > 0 and float(values.max()) > DOMINANCE_SHARE * total


def before_after_moments(
    before: Mapping[str, Sequence[float]],
    after: Mapping[str, Sequence[float]],
    *,
    confidence: float = 0.95,
    synthetic: tuple[bool, bool] = (False, False),
) -> pd.DataFrame:
    """Give the change of each mean between two releases, from their stored moments.

    Parameters
    ----------
    before, after
        Per value, ``[count, mean, variance]`` as a release stores them (only for footprints
        it could publish: 11 answers or more, no dominant respondent).
    confidence
        Level of the interval, between 0.5 and 0.999.
    synthetic
        Whether each release is of synthetic answers (its summary's ``synthetic``).

    Returns
    -------
    pandas.DataFrame
        As :func:`before_after`, over the values both releases give.

    Raises
    ------
    ValidationError
        Bad ``confidence``, or one release is synthetic and the other real.
    DisclosureError
        The releases have no publishable footprint in common.
    """
    if not 0.5 <= confidence <= 0.999:
        raise ValidationError(
            msg(
                "confidence doit être entre 0,5 et 0,999, reçu {confidence!r}.",
                confidence=confidence,
            )
        )
    _refuse_mixed_campaigns(bool(synthetic[0]), bool(synthetic[1]))
    names = [f"{u}_kgco2e" for u in USAGES] + ["total_kgco2e"]
    shared = [v for v in names if v in before and v in after]
    withheld = [v for v in names if (v in before) != (v in after)]
    moments = {v: (list(before[v]), list(after[v])) for v in shared}
    if not moments:
        raise DisclosureError(
            msg("les deux publications n'ont aucune empreinte publiable en commun.")
        )
    table = _deltas(moments, withheld, confidence=confidence)
    table.attrs["synthetic"] = bool(synthetic[0])
    return table


def _deltas(
    moments: dict[str, tuple[list[float], list[float]]],
    withheld: list[str],
    *,
    confidence: float,
) -> pd.DataFrame:
    # the total is the sum of the usages: with one usage withheld, the total would give it back
    if withheld and "total_kgco2e" in moments:
        del moments["total_kgco2e"]
        withheld.append("total_kgco2e")
    if not moments:
        raise DisclosureError(
            msg(
                "chaque empreinte de ces campagnes est dominée par un répondant : rien ne peut "
                "être comparé sans révéler l'empreinte de cette personne."
            )
        )
    z = float(norm.ppf(0.5 + confidence / 2))
    rows = {}
    for v, ((na, ma, va), (nb, mb, vb)) in moments.items():
        delta = float(mb - ma)
        se = math.sqrt(va / na + vb / nb)
        rows[v] = {
            "n_before": int(na),
            "n_after": int(nb),
            "mean_before": float(ma),
            "mean_after": float(mb),
            "delta": delta,
            "ci_low": delta - z * se,
            "ci_high": delta + z * se,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.attrs["withheld"] = sorted(set(withheld))
    return table
