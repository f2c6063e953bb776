"""Profils d'Usages: groups of residents who share similar carbon-heavy usages.

The SU survey ("Sphères / Profils d'Usages") asks six questions with three ordered answers each
(:data:`qet_geo.surveys.schema.USAGES`). A *Profil d'Usages* is a group of answers that are alike;
a neighbourhood's mix of profiles is what the QeT diagnostic shows at the forum.

:class:`UsageProfiles` is a scikit-learn clusterer with two methods:

``"near"``
    NEAR's reference algorithm, reproduced exactly (see :func:`UsageProfiles.fit` and
    ``docs/profiles.md``): every answer becomes a 6-vector of kgCO2e from
    :data:`~qet_geo.surveys.schema.NEAR_KGCO2E` (no scaling), agglomerated from singletons by
    centroid linkage, every pair at the exact minimal distance merged at once, until at most three
    clusters remain, or the smallest holds 11 % of the answers, or the largest 95 %. Each answer is
    then given the profile with the nearest barycentre.
``"ordinal-ward"`` (default)
    Answers encoded by their ordered level (0, 1, 2 per usage: one level step weighs the same in
    every usage, so car and plane no longer dominate), weighted Ward agglomeration refined by
    k-means, the number of profiles chosen by silhouette over k = 3..8, and a guaranteed minimum
    profile size (5 % of the answers and at least 11 respondents, INSEE's statistical-secrecy
    floor): smaller profiles are merged into the nearest one.

:func:`bootstrap_stability` measures how much profiles move under resampling (adjusted Rand index),
:func:`national_profiles` fits reference profiles on pooled neighbourhoods and :func:`profile_mix`
gives each neighbourhood's share of them.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClusterMixin, clone
from sklearn.utils.validation import check_is_fitted

from qet_geo.errors import EmptyDataError, QetGeoWarning, ValidationError
from qet_geo.i18n import LANGS, Lang, Msg, join, msg
from qet_geo.surveys.schema import NEAR_KGCO2E, USAGES

__all__ = [
    "METHODS",
    "Stability",
    "UsageProfiles",
    "bootstrap_stability",
    "national_profiles",
    "profile_mix",
]

logger = logging.getLogger(__name__)

#: The profile methods :class:`UsageProfiles` knows.
METHODS: tuple[str, ...] = ("ordinal-ward", "near")

Method = Literal["ordinal-ward", "near"]

# Squared distances within this window of the float minimum are re-checked in exact integer
# arithmetic; float64 errors on kgCO2e barycentres are below 1e-11 kg², far inside it.
_WINDOW_REL = 1e-6
_WINDOW_ABS = 1e-6

# Short phrases describing each level of each usage, for the profile descriptions.
_PHRASES: Mapping[str, Mapping[int, Msg]] = {
    "meat_frequency": {
        1: msg("peu ou pas de viande"),
        2: msg("viande à quelques repas"),
        3: msg("viande à presque tous les repas"),
    },
    "transportation_mode": {
        1: msg("marche et vélo au quotidien"),
        2: msg("transports en commun au quotidien"),
        3: msg("voiture individuelle au quotidien"),
    },
    "digital_intensity": {
        1: msg("numérique sobre"),
        2: msg("numérique de bureau et internet"),
        3: msg("streaming et jeux vidéo"),
    },
    "purchasing_strategy": {
        1: msg("achats d'occasion d'abord"),
        2: msg("achats mêlant neuf et occasion"),
        3: msg("achats neufs systématiquement"),
    },
    "air_travel_frequency": {
        1: msg("pas d'avion"),
        2: msg("avion 1 à 3 fois par an"),
        3: msg("avion plus de 3 fois par an"),
    },
    "heat_source": {
        1: msg("chauffage électrique ou réseau de chaleur"),
        2: msg("chauffage au gaz"),
        3: msg("chauffage au fioul"),
    },
}
# Phrases for two adjacent levels together: (1, 2) "at most level 2", (2, 3) "at least level 2".
_PAIR_PHRASES: Mapping[str, Mapping[tuple[int, int], Msg]] = {
    "meat_frequency": {
        (1, 2): msg("viande pas à tous les repas"),
        (2, 3): msg("viande à quelques repas ou plus"),
    },
    "transportation_mode": {
        (1, 2): msg("sans voiture au quotidien"),
        (2, 3): msg("transports en commun ou voiture au quotidien"),
    },
    "digital_intensity": {
        (1, 2): msg("ni streaming ni jeux vidéo"),
        (2, 3): msg("numérique de bureau ou plus"),
    },
    "purchasing_strategy": {
        (1, 2): msg("achats en partie d'occasion"),
        (2, 3): msg("achats en partie neufs"),
    },
    "air_travel_frequency": {
        (1, 2): msg("avion 3 fois par an au plus"),
        (2, 3): msg("avion au moins une fois par an"),
    },
    "heat_source": {
        (1, 2): msg("pas de chauffage au fioul"),
        (2, 3): msg("chauffage fossile (gaz ou fioul)"),
    },
}
_AVERAGE = msg("Usages proches de la moyenne de l'enquête")


class _Capitalized(Msg):
    """A text rendered with a capital first letter in every language (a profile's description)."""

    __slots__ = ("text",)

    def __init__(self, text: Msg) -> None:
        super().__init__("")
        self.text = text

    def render(self, lang: str = "fr") -> str:
        rendered = self.text.render(lang)
        return rendered[:1].upper() + rendered[1:]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Capitalized) and self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Capitalized, (self.text,))


# i18n: the separator of a list of choices (", " in the English "use one of a, b").
_OR = msg(" ou ")
# a trait is named when it is this much more common in the profile than in the whole survey
_MIN_LIFT = 0.05


# --------------------------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------------------------


class UsageProfiles(ClusterMixin, BaseEstimator):
    """Find the Profils d'Usages of SU answers, NEAR's way or with a sounder default.

    Parameters
    ----------
    method
        "ordinal-ward" (default): ordinal encoding, weighted Ward refined by k-means, number of
        profiles by silhouette, guaranteed minimum profile size. "near": NEAR's reference
        algorithm, reproduced exactly (kgCO2e vectors, centroid linkage, NEAR's stop rule).
    n_profiles
        "auto" (default) or a number of profiles. With "ordinal-ward", "auto" picks the k of
        ``k_range`` with the best silhouette, a number fixes k (before small profiles are
        merged). With "near" it is the cluster-count stop: merging stops once at most this many
        clusters remain ("auto" is NEAR's 3).
    k_range
        Smallest and largest k tried by "ordinal-ward" with ``n_profiles="auto"``; (3, 8) by
        default.
    min_share
        Fraction of the answers, between 0 and 1. "ordinal-ward": the guaranteed minimum share of
        every profile (default 0.05). "near": the stop rule's threshold on the smallest cluster
        (default NEAR's 0.11; a stop rule, not a guarantee).
    min_size
        "ordinal-ward" only: the guaranteed minimum number of respondents per profile (default 11,
        INSEE's statistical-secrecy floor, so that every profile can be published).
    max_share
        "near" only: the stop rule's threshold on the largest cluster (default NEAR's 0.95).
    usages
        The usages to cluster on, among :data:`~qet_geo.surveys.schema.USAGES`: all six (NEAR,
        default) or the five differentiating ones of the published method
        (:data:`~qet_geo.surveys.schema.DIFFERENTIATING_USAGES`).
    random_state
        Seed used by :func:`bootstrap_stability` when it is given this estimator; both methods
        are deterministic.

    Attributes
    ----------
    n_profiles_ : int
        Number of profiles found.
    usages_ : tuple of str
        The usages clustered on.
    labels_ : ndarray of shape (n_answers,)
        Profile of each fitted answer (nearest barycentre for "near"), -1 for an incomplete one.
    distances_ : ndarray of shape (n_answers,)
        Distance of each answer to its profile's centre (kgCO2e for "near", level steps for
        "ordinal-ward"), NaN for an incomplete one.
    merged_labels_ : ndarray of shape (n_answers,)
        The cluster each answer was merged into ("near"; may differ from ``labels_``), -1 when
        incomplete. Equal to ``labels_`` for "ordinal-ward".
    counts_ : ndarray of shape (n_profiles_,)
        Number of answers merged into each profile (the members).
    shares_ : ndarray of shape (n_profiles_,)
        ``counts_`` as a fraction of the complete answers (weighted by ``sample_weight`` for
        "ordinal-ward").
    assigned_counts_ : ndarray of shape (n_profiles_,)
        Number of answers whose nearest centre is each profile.
    barycentres_ : ndarray of shape (n_profiles_, n_usages)
        Mean kgCO2e per usage of each profile's members.
    centres_ : ndarray of shape (n_profiles_, n_usages)
        Profile centres in the space distances are measured in (kgCO2e for "near", level steps
        0..2 for "ordinal-ward").
    level_shares_ : ndarray of shape (n_profiles_, n_usages, 3)
        Share of each profile's members at each level of each usage.
    descriptions_ : list of Msg
        Plain-language description of each profile (``.render("en")`` for English).
    silhouette_ : float
        Silhouette of the fitted labels in the method's own space (NaN with one profile).
    silhouettes_ : dict of int to float
        "ordinal-ward": the silhouette of each k tried.
    n_merge_steps_ : int
        "near": number of merge steps made before the stop rule held.
    index_ : pandas.Index
        The fitted answers' ids (the frame's index; positions for an array).
    """

    def __init__(
        self,
        method: Method = "ordinal-ward",
        *,
        n_profiles: int | Literal["auto"] = "auto",
        k_range: tuple[int, int] = (3, 8),
        min_share: float | None = None,
        min_size: int = 11,
        max_share: float = 0.95,
        usages: Sequence[str] = USAGES,
        random_state: int | None = None,
    ) -> None:
        self.method = method
        self.n_profiles = n_profiles
        self.k_range = k_range
        self.min_share = min_share
        self.min_size = min_size
        self.max_share = max_share
        self.usages = usages
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------------------

    def fit(
        self, X: pd.DataFrame | ArrayLike, y: None = None, sample_weight: ArrayLike | None = None
    ) -> UsageProfiles:
        """Find the profiles of SU answers.

        Parameters
        ----------
        X
            SU answers: a frame with one column per usage (the levels 1..3, ``<NA>`` when
            unanswered) as :func:`qet_geo.surveys.io.read_su` returns, or an array of levels with
            one column per usage of ``usages``. Incomplete answers are left out with a warning.
        y
            Ignored (scikit-learn convention).
        sample_weight
            Weight of each answer ("ordinal-ward" only), e.g. to give every neighbourhood of a
            national pool the same total weight. None gives every answer weight 1.

        Returns
        -------
        UsageProfiles
            The fitted estimator.

        Raises
        ------
        ValidationError
            A usage column is missing, holds something else than levels 1, 2 or 3, or a
            parameter is invalid (``sample_weight`` with "near" among others).
        EmptyDataError
            No answer is complete.

        Warns
        -----
        QetGeoWarning
            Incomplete answers were left out (their ids are named).

        Notes
        -----
        "ordinal-ward" guarantees ``min_share`` on the weighted shares and ``min_size`` on the
        number of respondents of every profile (unless there is only one).

        "near" reads NEAR's stop rule literally and checks it before every merge step, the
        first included: with 9 answers or fewer each singleton already holds at least 11 % of
        the answers, so nothing is merged and every answer is its own profile. Distances tie
        when their squares are equal in exact rational arithmetic (kgCO2e values are integers and
        barycentres rationals); float64 only pre-selects candidates. Profiles are numbered by
        decreasing number of merged answers, then by their first answer's position. An answer
        at the same distance of several barycentres goes to the lowest-numbered one.
        """
        usages = _check_usages(self.usages)
        method = self._check_params()
        levels, complete, index = _level_matrix(X, usages, what="X")
        if not complete.any():
            raise EmptyDataError(
                msg(
                    "X ne contient aucune réponse SU complète : chaque usage doit être renseigné "
                    "(niveaux 1 à 3)."
                )
            )
        weights = _check_weights(sample_weight, len(levels), method)
        _warn_incomplete(index, complete)
        lev = levels[complete]
        self.usages_ = usages
        self.index_ = index
        self.n_features_in_ = len(usages)
        # everything runs on the distinct answers (at most 3^6 = 729) with their counts
        codes, inverse, counts = _distinct(lev)
        distinct = _decode(codes, len(usages))
        if method == "near":
            members = self._fit_near(lev, inverse, counts, distinct)
            level_shares = _level_shares(lev, members, len(self.counts_))
            weight = counts.astype(np.float64)
        else:
            w = np.ones(len(lev)) if weights is None else weights[complete]
            weight = np.bincount(inverse, weights=w, minlength=len(codes)).astype(np.float64)
            members_d = self._fit_ordinal(distinct, weight, counts)
            members = members_d[inverse]
            level_shares = _level_shares(distinct, members_d, len(self.counts_), weight)
        lab_d, dist_d = self._assign_distinct(distinct)
        k = len(self.counts_)
        self.n_profiles_ = k
        self.labels_ = _expand(lab_d[inverse], complete, -1)
        self.distances_ = _expand(dist_d[inverse], complete, np.nan)
        self.merged_labels_ = _expand(members, complete, -1)
        self.assigned_counts_ = np.bincount(lab_d, weights=counts, minlength=k).astype(np.int64)
        self.level_shares_ = level_shares
        overall = _level_shares(distinct, np.zeros(len(codes), dtype=np.intp), 1, weight)[0]
        self.descriptions_ = [_describe(level_shares[p], overall, usages) for p in range(k)]
        self.silhouette_ = _weighted_silhouette(_pairwise(self._space(distinct)), weight, lab_d)
        return self

    def fit_predict(
        self, X: pd.DataFrame | ArrayLike, y: None = None, sample_weight: ArrayLike | None = None
    ) -> NDArray[np.intp]:
        """Fit the profiles and return each answer's profile (-1 when incomplete)."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def _check_params(self) -> Method:
        if self.method not in METHODS:
            raise ValidationError(
                msg(
                    "méthode {method!r} inconnue : utilisez {methods}.",
                    method=self.method,
                    methods=join(METHODS, _OR),
                )
            )
        n = self.n_profiles
        if n != "auto" and (not _is_whole(n) or int(n) < 1):
            raise ValidationError(
                msg("n_profiles={n!r} doit valoir 'auto' ou un entier au moins égal à 1.", n=n)
            )
        k_range = self.k_range
        if not (
            isinstance(k_range, tuple | list)
            and len(k_range) == 2
            and all(_is_whole(v) for v in k_range)
            and 1 <= k_range[0] <= k_range[1]
        ):
            raise ValidationError(
                msg(
                    "k_range={k_range!r} doit être (k minimal, k maximal) avec 1 <= minimal <= "
                    "maximal.",
                    k_range=k_range,
                )
            )
        for name, value in (("min_share", self.min_share), ("max_share", self.max_share)):
            if value is None and name == "min_share":
                continue
            if value is None or not _is_number(value) or not 0.0 <= float(value) <= 1.0:
                raise ValidationError(
                    msg(
                        "{name}={value!r} doit être une fraction entre 0 et 1 (0.11 pour 11 %).",
                        name=name,
                        value=value,
                    )
                )
        if not _is_whole(self.min_size) or self.min_size < 0:
            raise ValidationError(
                msg(
                    "min_size={min_size!r} doit être un nombre de répondants, positif ou nul.",
                    min_size=self.min_size,
                )
            )
        return self.method

    def _fit_near(
        self,
        lev: NDArray[np.int8],
        inverse: NDArray[np.intp],
        counts: NDArray[np.int64],
        distinct: NDArray[np.int8],
    ) -> NDArray[np.intp]:
        table = _near_table(self.usages_)
        max_k = 3 if self.n_profiles == "auto" else int(self.n_profiles)
        min_share = 0.11 if self.min_share is None else float(self.min_share)
        stop = _StopRule(len(lev), max_k, min_share, float(self.max_share))
        sums, sizes, members, steps = _near_fit(lev, inverse, counts, distinct, table, stop)
        self.counts_ = sizes
        self.shares_ = sizes / sizes.sum()
        self._sums = sums
        self.centres_ = sums / sizes[:, None]
        self.barycentres_ = self.centres_.copy()
        self.n_merge_steps_ = steps
        self.silhouettes_: dict[int, float] = {}
        return members

    def _fit_ordinal(
        self, distinct: NDArray[np.int8], weight: NDArray[np.float64], counts: NDArray[np.int64]
    ) -> NDArray[np.intp]:
        min_share = 0.05 if self.min_share is None else float(self.min_share)
        if self.n_profiles == "auto":
            ks = list(range(self.k_range[0], self.k_range[1] + 1))
        else:
            ks = [int(self.n_profiles)]
        points = self._space(distinct)
        labels, centres, scores = _ordinal_fit(
            points, weight, counts, ks=ks, min_share=min_share, min_size=int(self.min_size)
        )
        k = len(centres)
        wsum = np.bincount(labels, weights=weight, minlength=k)
        kg = _kgco2e(distinct, _near_table(self.usages_))
        self.counts_ = np.bincount(labels, weights=counts, minlength=k).astype(np.int64)
        self.shares_ = wsum / wsum.sum()
        self.centres_ = centres
        self.barycentres_ = (
            np.stack(
                [
                    np.bincount(labels, weights=weight * kg[:, j], minlength=k)
                    for j in range(kg.shape[1])
                ],
                axis=1,
            )
            / wsum[:, None]
        )
        self.silhouettes_ = scores
        self.n_merge_steps_ = 0
        return labels

    def _space(self, levels: NDArray[np.int8]) -> NDArray[np.float64]:
        """Answers as points of the method's space: kgCO2e ("near") or level steps 0..2."""
        if self.method == "near":
            return _kgco2e(levels, _near_table(self.usages_)).astype(np.float64)
        return (levels - 1).astype(np.float64)

    # -- prediction ----------------------------------------------------------------------------

    def _assign_distinct(
        self, distinct: NDArray[np.int8]
    ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        if self.method == "near":
            kg = _kgco2e(distinct, _near_table(self.usages_))
            return _nearest_exact(kg, self._sums, self.counts_)
        return _nearest_float(self._space(distinct), self.centres_)

    def _assign(self, lev: NDArray[np.int8]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        if len(lev) == 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        codes, inverse, _ = _distinct(lev)
        lab, dist = self._assign_distinct(_decode(codes, len(self.usages_)))
        return lab[inverse], dist[inverse]

    def predict(self, X: pd.DataFrame | ArrayLike) -> NDArray[np.intp]:
        """Give each answer the profile with the nearest centre.

        Parameters
        ----------
        X
            SU answers (frame or array of levels, as for :meth:`fit`), from the fitted survey or
            any other one: later answers are assigned to the existing profiles.

        Returns
        -------
        numpy.ndarray
            Profile of each answer; -1 for an incomplete answer. Ties go to the lowest-numbered
            profile.
        """
        return self.assign(X)["profile"].fillna(-1).to_numpy(dtype=np.intp)

    def assign(self, X: pd.DataFrame | ArrayLike) -> pd.DataFrame:
        """Give each answer its nearest profile and the distance to the profile's centre.

        Parameters
        ----------
        X
            SU answers (frame or array of levels, as for :meth:`fit`).

        Returns
        -------
        pandas.DataFrame
            Indexed like ``X``, with ``profile`` (Int64, ``<NA>`` when incomplete) and
            ``distance`` (kgCO2e for "near", level steps for "ordinal-ward").
        """
        check_is_fitted(self, "counts_")
        levels, complete, index = _level_matrix(X, self.usages_, what="X")
        lab, dist = self._assign(levels[complete])
        out = pd.DataFrame(
            {
                "profile": pd.array(_expand(lab, complete, -1), dtype="Int64"),
                "distance": _expand(dist, complete, np.nan),
            },
            index=index,
        )
        out.loc[~complete, "profile"] = pd.NA
        return out

    def transform(self, X: pd.DataFrame | ArrayLike) -> NDArray[np.float64]:
        """Return the distance of each answer to every profile centre (NaN rows when incomplete)."""
        check_is_fitted(self, "counts_")
        levels, complete, _ = _level_matrix(X, self.usages_, what="X")
        points = self._space(levels[complete])
        d = np.sqrt(((points[:, None, :] - self.centres_[None]) ** 2).sum(-1))
        out = np.full((len(levels), len(self.centres_)), np.nan)
        out[complete] = d
        return out

    # -- output --------------------------------------------------------------------------------

    def describe(self, lang: Lang = "fr") -> pd.DataFrame:
        """Summarise the profiles: share, members, barycentre per usage and description.

        Parameters
        ----------
        lang
            "fr" (default) or "en", for the descriptions.

        Returns
        -------
        pandas.DataFrame
            One row per profile: ``share_pct``, ``n``, ``assigned_pct``, ``n_assigned``, one
            ``<usage>_kgco2e`` column per usage and ``description``.
        """
        check_is_fitted(self, "counts_")
        lang = _check_lang(lang)
        total = self.assigned_counts_.sum()
        frame = pd.DataFrame(
            {
                "share_pct": 100.0 * self.shares_,
                "n": self.counts_,
                "assigned_pct": 100.0 * self.assigned_counts_ / max(total, 1),
                "n_assigned": self.assigned_counts_,
            },
            index=pd.RangeIndex(self.n_profiles_, name="profile"),
        )
        for j, usage in enumerate(self.usages_):
            frame[f"{usage}_kgco2e"] = self.barycentres_[:, j]
        frame["description"] = [text.render(lang) for text in self.descriptions_]
        return frame

    def to_dict(self, lang: Lang = "fr") -> dict[str, Any]:
        """Return the profiles and the fitted answers' assignments, ready for JSON.

        Parameters
        ----------
        lang
            "fr" (default) or "en", for the descriptions.

        Returns
        -------
        dict
            ``{"method", "distance_unit", "profiles": [{"profile", "share_pct", "n",
            "assigned_pct", "n_assigned", "barycentre": {usage: kgco2e}, "description"}],
            "answers": [{"id", "profile", "distance"}]}``. ``share_pct`` is the share of the
            answers merged into the profile (NEAR's figure); ``assigned_pct`` the (unweighted)
            share of answers whose nearest centre it is. Incomplete answers have ``profile`` and
            ``distance`` None. Figures are rounded (shares 0.01 %, kgCO2e 0.01, distances 1e-4).
        """
        check_is_fitted(self, "counts_")
        lang = _check_lang(lang)
        assigned = 100.0 * self.assigned_counts_ / max(int(self.assigned_counts_.sum()), 1)
        profiles = [
            {
                "profile": p,
                "share_pct": round(100.0 * float(self.shares_[p]), 2),
                "n": int(self.counts_[p]),
                "assigned_pct": round(float(assigned[p]), 2),
                "n_assigned": int(self.assigned_counts_[p]),
                "barycentre": {
                    u: round(float(self.barycentres_[p, j]), 2) for j, u in enumerate(self.usages_)
                },
                "description": self.descriptions_[p].render(lang),
            }
            for p in range(self.n_profiles_)
        ]
        answers = [
            {
                "id": _json_id(rid),
                "profile": None if lab < 0 else int(lab),
                "distance": None if lab < 0 else round(float(dist), 4),
            }
            for rid, lab, dist in zip(self.index_, self.labels_, self.distances_, strict=True)
        ]
        return {
            "method": self.method,
            "distance_unit": "kgco2e" if self.method == "near" else "level_steps",
            "profiles": profiles,
            "answers": answers,
        }


# --------------------------------------------------------------------------------------------
# Stability, national profiles
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stability:
    """Agreement between profiles fitted on bootstrap resamples and on the whole survey.

    Attributes
    ----------
    mean
        Mean adjusted Rand index (1: the same partition every time; 0: chance agreement).
    low, high
        2.5 % and 97.5 % percentiles of the index over the resamples.
    values
        The index of each resample.
    n_profiles
        Number of profiles found on each resample.
    """

    mean: float
    low: float
    high: float
    values: NDArray[np.float64]
    n_profiles: NDArray[np.intp]


def bootstrap_stability(
    estimator: UsageProfiles,
    X: pd.DataFrame | ArrayLike,
    *,
    n_resamples: int = 100,
    random_state: int | None = None,
) -> Stability:
    """Measure how stable profiles are when the answers are resampled with replacement.

    The estimator is fitted on the complete answers of ``X``, then on ``n_resamples`` bootstrap
    resamples of them; each resample's profiles assign every answer of ``X`` (nearest centre) and
    the partition is compared with the full fit by the adjusted Rand index.

    Parameters
    ----------
    estimator
        An unfitted or fitted :class:`UsageProfiles`; it is cloned, never changed.
    X
        SU answers, as for :meth:`UsageProfiles.fit`.
    n_resamples
        Number of bootstrap resamples (100 by default).
    random_state
        Seed of the resampling; None uses the estimator's ``random_state``.

    Returns
    -------
    Stability
        Mean and 95 % interval of the adjusted Rand index, and the per-resample values.
    """
    from sklearn.metrics import adjusted_rand_score

    if n_resamples < 1:
        raise ValidationError(
            msg("n_resamples={n_resamples} doit valoir au moins 1.", n_resamples=n_resamples)
        )
    levels, complete, _ = _level_matrix(X, _check_usages(estimator.usages), what="X")
    lev = levels[complete]
    seed = estimator.random_state if random_state is None else random_state
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QetGeoWarning)
        reference = clone(estimator).fit(lev).labels_
        values = np.empty(n_resamples)
        ks = np.empty(n_resamples, dtype=np.intp)
        for b in range(n_resamples):
            sample = lev[rng.integers(0, len(lev), len(lev))]
            model = clone(estimator).fit(sample)
            values[b] = adjusted_rand_score(reference, model.predict(lev))
            ks[b] = model.n_profiles_
    low, high = np.percentile(values, [2.5, 97.5])
    return Stability(float(values.mean()), float(low), float(high), values, ks)


def national_profiles(
    answers: pd.DataFrame,
    *,
    neighbourhood: str = "neighbourhood",
    balance: bool = True,
    **params: Any,
) -> UsageProfiles:
    """Fit national reference profiles on the pooled SU answers of several neighbourhoods.

    Parameters
    ----------
    answers
        SU answers of all neighbourhoods, one column per usage and a ``neighbourhood`` column.
    neighbourhood
        Name of the column that says which neighbourhood each answer comes from.
    balance
        True (default): every neighbourhood weighs the same in the fit, however many people it
        surveyed. False: every answer weighs the same. Balancing needs "ordinal-ward".
    **params
        Parameters of :class:`UsageProfiles` (``method``, ``n_profiles``, ``min_share``...).

    Returns
    -------
    UsageProfiles
        The fitted reference profiles; ``predict`` assigns any neighbourhood's answers to them.
    """
    if neighbourhood not in answers.columns:
        raise ValidationError(
            msg(
                "les réponses n'ont pas de colonne {neighbourhood!r} : ajoutez le quartier de "
                "chaque réponse ou indiquez neighbourhood=<nom de colonne>.",
                neighbourhood=neighbourhood,
            )
        )
    groups = answers[neighbourhood]
    if groups.isna().any():
        raise ValidationError(
            msg(
                "{n} réponses n'ont pas de {neighbourhood!r} : renseignez-le.",
                n=int(groups.isna().sum()),
                neighbourhood=neighbourhood,
            )
        )
    model = UsageProfiles(**params)
    weights = None
    if balance:
        if model.method == "near":
            raise ValidationError(
                msg(
                    "balance=True pondère les quartiers, ce que l'algorithme de NEAR ne sait pas "
                    "faire : utilisez method='ordinal-ward' ou balance=False."
                )
            )
        _, complete, _ = _level_matrix(answers, _check_usages(model.usages), what="answers")
        usable = groups[complete]
        sizes = usable.map(usable.value_counts())
        n_groups = usable.nunique()
        weights = np.zeros(len(answers))
        weights[complete] = len(usable) / (n_groups * sizes.to_numpy(dtype=float))
    return model.fit(answers, sample_weight=weights)


def profile_mix(
    profiles: UsageProfiles, answers: pd.DataFrame, *, neighbourhood: str = "neighbourhood"
) -> pd.DataFrame:
    """Give each neighbourhood's mix of (reference) profiles.

    Parameters
    ----------
    profiles
        Fitted profiles, e.g. from :func:`national_profiles`.
    answers
        SU answers with a ``neighbourhood`` column.
    neighbourhood
        Name of that column.

    Returns
    -------
    pandas.DataFrame
        One row per neighbourhood: ``n`` (complete answers) and the share (%) of them in each
        profile, columns ``0 .. n_profiles - 1``.
    """
    check_is_fitted(profiles, "counts_")
    if neighbourhood not in answers.columns:
        raise ValidationError(
            msg("les réponses n'ont pas de colonne {neighbourhood!r}.", neighbourhood=neighbourhood)
        )
    assigned = profiles.assign(answers)
    frame = pd.DataFrame(
        {"group": answers[neighbourhood].to_numpy(), "profile": assigned["profile"].to_numpy()}
    ).dropna()
    counts = pd.crosstab(frame["group"], frame["profile"].astype(int))
    counts = counts.reindex(columns=range(profiles.n_profiles_), fill_value=0)
    n = counts.sum(axis=1)
    mix = counts.div(n, axis=0) * 100.0
    mix.insert(0, "n", n)
    mix.index.name = neighbourhood
    mix.columns.name = None
    return mix


# --------------------------------------------------------------------------------------------
# Validation and encoding
# --------------------------------------------------------------------------------------------


def _is_whole(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _check_lang(lang: str) -> Lang:
    for known in LANGS:
        if lang == known:
            return known
    raise ValidationError(msg("langue {lang!r} inconnue : utilisez 'fr' ou 'en'.", lang=lang))


def _check_usages(usages: Sequence[str]) -> tuple[str, ...]:
    if isinstance(usages, str):
        usages = (usages,)
    out = tuple(usages)
    unknown = [u for u in out if u not in USAGES]
    if unknown or not out or len(set(out)) != len(out):
        raise ValidationError(
            msg(
                "usages={given!r} : donnez des usages distincts parmi {usages}.",
                given=list(out),
                usages=", ".join(USAGES),
            )
        )
    return out


def _level_matrix(
    X: pd.DataFrame | ArrayLike, usages: tuple[str, ...], *, what: str
) -> tuple[NDArray[np.int8], NDArray[np.bool_], pd.Index]:
    """Return the levels (0 where missing), the complete-row mask and the row ids."""
    if isinstance(X, pd.DataFrame):
        missing = [u for u in usages if u not in X.columns]
        if missing:
            raise ValidationError(
                msg(
                    "{what} n'a pas les colonnes d'usages SU {missing} : lisez l'enquête avec "
                    "qet_geo.surveys.io.read_su, ou nommez les colonnes de niveaux comme "
                    "qet_geo.surveys.schema.USAGES.",
                    what=what,
                    missing=", ".join(missing),
                )
            )
        index = X.index
        try:
            raw = np.column_stack(
                [X[u].to_numpy(dtype=np.float64, na_value=np.nan) for u in usages]
            )
        except (TypeError, ValueError) as err:
            raise _bad_levels(what, usages) from err
    else:
        try:
            raw = np.asarray(X, dtype=float)
        except (TypeError, ValueError) as err:
            raise _bad_levels(what, usages) from err
        if raw.ndim != 2 or raw.shape[1] != len(usages):
            raise ValidationError(
                msg(
                    "{what} doit être un tableau avec une colonne par usage ({n_usages} : "
                    "{usages}), reçu la forme {shape}.",
                    what=what,
                    n_usages=len(usages),
                    usages=", ".join(usages),
                    shape=raw.shape,
                )
            )
        index = pd.RangeIndex(len(raw))
    missing = np.isnan(raw)
    complete = ~missing.any(axis=1)
    valid = missing | (raw == 1.0) | (raw == 2.0) | (raw == 3.0)
    if not valid.all():
        col = int(np.nonzero(~valid.all(axis=0))[0][0])
        bad = sorted({float(v) for v in raw[~valid[:, col], col]})[:5]
        raise ValidationError(
            msg(
                "{what} : {column} contient {bad}, pas des niveaux 1, 2 ou 3 (1 = le plus sobre).",
                what=what,
                column=usages[col],
                bad=bad,
            )
        )
    levels = np.where(missing, 0, raw).astype(np.int8)
    return levels, complete, index


def _bad_levels(what: str, usages: tuple[str, ...]) -> ValidationError:
    return ValidationError(
        msg(
            "{what} : les colonnes d'usages ({usages}) doivent contenir les niveaux 1, "
            "2 ou 3, pas des libellés : lisez l'enquête avec qet_geo.surveys.io.read_su.",
            what=what,
            usages=", ".join(usages),
        )
    )


def _warn_incomplete(index: pd.Index, complete: NDArray[np.bool_]) -> None:
    n_out = int((~complete).sum())
    if n_out:
        ids = ", ".join(str(i) for i in index[~complete][:5]) + (", ..." if n_out > 5 else "")
        warnings.warn(
            QetGeoWarning(
                msg(
                    "{n_out} réponse(s) SU incomplète(s) écartée(s) des profils (identifiants {ids}).",
                    n_out=n_out,
                    ids=ids,
                )
            ),
            stacklevel=3,
        )


def _check_weights(
    sample_weight: ArrayLike | None, n: int, method: str
) -> NDArray[np.float64] | None:
    if sample_weight is None:
        return None
    if method == "near":
        raise ValidationError(
            msg(
                "method='near' n'accepte pas de sample_weight : l'algorithme de NEAR compte les "
                "réponses ; utilisez method='ordinal-ward' pour les pondérer."
            )
        )
    w = np.asarray(sample_weight, dtype=float)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
        raise ValidationError(
            msg(
                "sample_weight doit contenir un poids fini, positif ou nul, par réponse ({n}).", n=n
            )
        )
    return w


def _near_table(usages: tuple[str, ...]) -> NDArray[np.int64]:
    """NEAR's kgCO2e per (usage, level - 1), as integers (exact arithmetic relies on it)."""
    table = np.array([[NEAR_KGCO2E[u][lev] for lev in (1, 2, 3)] for u in usages])
    if not np.array_equal(table, np.round(table)):  # pragma: no cover - schema guard
        raise ValueError("NEAR_KGCO2E must hold whole kgCO2e values")
    return table.astype(np.int64)


def _kgco2e(levels: NDArray[np.integer[Any]], table: NDArray[np.int64]) -> NDArray[np.int64]:
    cols = np.arange(levels.shape[1])
    return table[cols, levels.astype(np.intp) - 1]


def _distinct(
    levels: NDArray[np.int8],
) -> tuple[NDArray[np.int64], NDArray[np.intp], NDArray[np.int64]]:
    """Return the distinct answers (base-3 codes, sorted), each answer's code index, counts."""
    d = levels.shape[1]
    powers = 3 ** np.arange(d - 1, -1, -1, dtype=np.int64)
    codes = (levels.astype(np.int64) - 1) @ powers
    counts = np.bincount(codes, minlength=3**d)
    present = np.flatnonzero(counts)
    lookup = np.zeros(3**d, dtype=np.intp)
    lookup[present] = np.arange(len(present))
    return present.astype(np.int64), lookup[codes], counts[present].astype(np.int64)


def _decode(codes: NDArray[np.int64], d: int) -> NDArray[np.int8]:
    powers = 3 ** np.arange(d - 1, -1, -1, dtype=np.int64)
    return ((codes[:, None] // powers) % 3 + 1).astype(np.int8)


def _expand(values: NDArray[Any], mask: NDArray[np.bool_], fill: float) -> NDArray[Any]:
    out = np.full(len(mask), fill, dtype=values.dtype if fill == -1 else float)
    out[mask] = values
    return out


def _json_id(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value if isinstance(value, int | float | str) or value is None else str(value)


# --------------------------------------------------------------------------------------------
# NEAR's algorithm
# --------------------------------------------------------------------------------------------


def _near_fit(
    lev: NDArray[np.int8],
    inverse: NDArray[np.intp],
    counts: NDArray[np.int64],
    distinct: NDArray[np.int8],
    table: NDArray[np.int64],
    stop: _StopRule,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.intp], int]:
    """Run NEAR's agglomeration; return kgCO2e sums and sizes per profile, each answer's
    cluster and the number of merge steps.

    Identical answers are merged first: unless the stop rule already holds on the singletons,
    NEAR's first step merges exactly the groups of identical answers (their distance, 0, is the
    minimum), so starting from the distinct answers with their counts is the same run.
    """
    n = len(lev)
    ones = np.ones(n, dtype=np.int64)
    if stop(n, ones):
        return _kgco2e(lev, table), ones, np.arange(n, dtype=np.intp), 0
    points = _kgco2e(distinct, table)
    slot, sums, sizes, steps = _near_agglomerate(points, counts, stop)
    steps += int(len(distinct) < n)
    roots = np.unique(slot)
    # profiles numbered by decreasing size, then by the position of their first answer
    first = np.zeros(len(distinct), dtype=np.intp)
    tied = roots[np.isin(sizes[roots], _repeated(sizes[roots]))]
    if len(tied):
        rows = np.flatnonzero(np.isin(slot, tied)[inverse])
        root_of_row = slot[inverse[rows]]
        found, at = np.unique(root_of_row, return_index=True)
        first[found] = rows[at]
    order = roots[np.lexsort((first[roots], -sizes[roots]))]
    rank = np.empty(len(distinct), dtype=np.intp)
    rank[order] = np.arange(len(order))
    return sums[order], sizes[order], rank[slot][inverse], steps


def _repeated(values: NDArray[np.int64]) -> NDArray[np.int64]:
    uniq, n = np.unique(values, return_counts=True)
    return uniq[n > 1]


class _StopRule:
    """NEAR's stop rule, compared exactly: at most ``max_profiles`` clusters, or the smallest
    share >= ``min_share``, or the largest >= ``max_share`` (shares as exact fractions)."""

    def __init__(self, n: int, max_profiles: int, min_share: float, max_share: float) -> None:
        self.n = n
        self.max_profiles = max_profiles
        self.min_share = Fraction(min_share).limit_denominator(10**6)
        self.max_share = Fraction(max_share).limit_denominator(10**6)

    def __call__(self, k: int, weights: NDArray[np.int64]) -> bool:
        if k <= self.max_profiles:
            return True
        lo, hi = int(weights.min()), int(weights.max())
        return (
            lo * self.min_share.denominator >= self.min_share.numerator * self.n
            or hi * self.max_share.denominator >= self.max_share.numerator * self.n
        )


def _near_agglomerate(
    points: NDArray[np.int64], counts: NDArray[np.int64], stop: _StopRule
) -> tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.int64], int]:
    """Agglomerate weighted points by centroid linkage, merging all exact-minimum pairs at once.

    Returns each point's cluster slot (the lowest index of its cluster), the kgCO2e sums and
    counts per slot (meaningful at the slots in use) and the number of merge steps. The full
    matrix of squared barycentre distances is kept with each row's minimum, so a step costs a
    few rows rather than the whole matrix.
    """
    k = len(points)
    sums = points * counts[:, None]
    weights = counts.copy()
    active = np.ones(k, dtype=bool)
    parent = np.arange(k, dtype=np.intp)  # merged slot -> the slot it went into
    bary = sums / weights[:, None]
    dist = ((bary[:, None, :] - bary[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    nn_idx = np.argmin(dist, axis=1)
    nn = dist[np.arange(k), nn_idx]
    changed = np.zeros(k, dtype=bool)
    n_active = k
    steps = 0
    while not stop(n_active, weights[active]):
        low = float(nn.min())
        limit = low + _WINDOW_REL * low + _WINDOW_ABS
        rows = np.flatnonzero(nn <= limit)
        if len(rows) == 2:  # one candidate pair: the minimum, no need to compare exactly
            groups = [[int(rows[0]), int(rows[1])]]
        else:
            ii, jj = np.nonzero(np.triu(dist[np.ix_(rows, rows)] <= limit, 1))
            groups = _components(_exact_min_pairs(rows[ii], rows[jj], sums, weights))
        roots = np.asarray([g[0] for g in groups], dtype=np.intp)
        gone = np.asarray([o for g in groups for o in g[1:]], dtype=np.intp)
        for group in groups:
            root = group[0]
            sums[root] = sums[group].sum(axis=0)
            weights[root] = weights[group].sum()
            bary[root] = sums[root] / weights[root]
            parent[group[1:]] = root
        active[gone] = False
        n_active -= len(gone)
        steps += 1
        dist[gone, :] = np.inf
        dist[:, gone] = np.inf
        nn[gone] = np.inf
        live = np.flatnonzero(active)
        new = ((bary[live][:, None, :] - bary[roots][None, :, :]) ** 2).sum(-1)
        dist[np.ix_(live, roots)] = new
        dist[np.ix_(roots, live)] = new.T
        dist[roots, roots] = np.inf
        # rows whose nearest cluster was merged or moved are recomputed; the others keep their
        # nearest unless a new barycentre is nearer
        changed[roots] = True
        changed[gone] = True
        stale_mask = changed[nn_idx[live]]
        stale_mask |= changed[live]
        changed[roots] = False
        changed[gone] = False
        closer_at = np.argmin(new, axis=1)
        closer = new[np.arange(len(live)), closer_at]
        better = closer < nn[live]
        nn[live[better]] = closer[better]
        nn_idx[live[better]] = roots[closer_at[better]]
        stale = live[stale_mask]
        if len(stale):
            nn_idx[stale] = np.argmin(dist[stale], axis=1)
            nn[stale] = dist[stale, nn_idx[stale]]
    slot = parent.copy()
    while True:  # follow the merges to each point's final slot
        up = parent[slot]
        if np.array_equal(up, slot):
            return slot, sums, weights, steps
        slot = up


def _exact_min_pairs(
    ii: NDArray[np.intp], jj: NDArray[np.intp], sums: NDArray[np.int64], weights: NDArray[np.int64]
) -> list[tuple[int, int]]:
    """Keep the candidate pairs whose squared barycentre distance is the exact minimum.

    The squared distance of barycentres S_i / w_i and S_j / w_j is
    |S_i w_j - S_j w_i|² / (w_i w_j)², compared as an exact fraction of Python integers.
    """
    best: Fraction | None = None
    kept: list[tuple[int, int]] = []
    for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
        wi, wj = int(weights[i]), int(weights[j])
        num = sum(
            (int(a) * wj - int(b) * wi) ** 2
            for a, b in zip(sums[i].tolist(), sums[j].tolist(), strict=True)
        )
        value = Fraction(num, (wi * wj) ** 2)
        if best is None or value < best:
            best, kept = value, [(i, j)]
        elif value == best:
            kept.append((i, j))
    return kept


def _components(pairs: list[tuple[int, int]]) -> list[list[int]]:
    """Connected components of the pairs, each sorted, as lists of slots."""
    parent: dict[int, int] = {}

    def find(a: int) -> int:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for a in sorted(parent):
        groups.setdefault(find(a), []).append(a)
    return list(groups.values())


def _nearest_exact(
    points: NDArray[np.int64], sums: NDArray[np.int64], counts: NDArray[np.int64]
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Nearest barycentre of each point, ties (in exact arithmetic) to the lowest profile."""
    centres = sums / counts[:, None]
    d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    low = d2.min(axis=1)
    near = d2 <= (low + _WINDOW_REL * low + _WINDOW_ABS)[:, None]
    labels = np.argmax(near, axis=1).astype(np.intp)
    dist2 = d2[np.arange(len(points)), labels]
    for r in np.flatnonzero(near.sum(axis=1) > 1).tolist():
        p = points[r].tolist()
        best: Fraction | None = None
        for c in np.flatnonzero(near[r]).tolist():
            w = int(counts[c])
            num = sum((a * w - int(s)) ** 2 for a, s in zip(p, sums[c].tolist(), strict=True))
            value = Fraction(num, w * w)
            if best is None or value < best:
                best, labels[r] = value, c
        assert best is not None
        dist2[r] = float(best)
    return labels, np.sqrt(dist2)


# --------------------------------------------------------------------------------------------
# Ordinal Ward
# --------------------------------------------------------------------------------------------


def _ordinal_fit(
    points: NDArray[np.float64],
    weight: NDArray[np.float64],
    counts: NDArray[np.int64],
    *,
    ks: list[int],
    min_share: float,
    min_size: int,
) -> tuple[NDArray[np.intp], NDArray[np.float64], dict[int, float]]:
    """Ward + k-means on distinct weighted answers for each k; keep the best silhouette.

    Returns the labels of every distinct answer (nearest centre), the centres and the
    silhouette of each k tried.
    """
    keep = weight > 0
    if not keep.any():
        raise EmptyDataError(
            msg("tous les sample_weight valent 0 : donnez un poids positif à des réponses.")
        )
    # zero-weight answers take no part in the fit; they are assigned afterwards
    pts, wts, cnt = points[keep], weight[keep], counts[keep]
    merges = _ward_merges(pts, wts)
    dist = _pairwise(pts)
    scores: dict[int, float] = {}
    best: tuple[float, NDArray[np.float64]] | None = None
    for k in ks:
        part = _cut(merges, len(pts), min(k, len(pts)))
        labels, centres = _refine(pts, wts, cnt, part, min_share, min_size)
        score = _weighted_silhouette(dist, wts, labels)
        scores[k] = score
        value = -np.inf if np.isnan(score) else score
        # a larger k must beat the best silhouette so far, not just equal it
        if best is None or value > best[0] + 1e-12:
            best = (value, centres)
    assert best is not None
    labels, _ = _nearest_float(points, best[1])
    return labels, best[1], scores


def _ward_merges(points: NDArray[np.float64], weight: NDArray[np.float64]) -> list[tuple[int, int]]:
    """Weighted Ward agglomeration; the merges in order, each as (kept slot, absorbed slot).

    The Ward cost of merging clusters a and b is w_a w_b / (w_a + w_b) |c_a - c_b|², the growth
    of the within-profile sum of squares. A weighted point stands for identical answers, which
    Ward merges first at no cost, so the tree is Ward's on the raw answers. Ties go to the
    first pair in row-major order of the (code-sorted) distinct answers.
    """
    k = len(points)
    centre = points.copy()
    w = weight.astype(float).copy()
    alive = np.ones(k, dtype=bool)
    sq = ((centre[:, None, :] - centre[None, :, :]) ** 2).sum(-1)
    cost = (w[:, None] * w[None, :]) / (w[:, None] + w[None, :]) * sq
    np.fill_diagonal(cost, np.inf)
    merges: list[tuple[int, int]] = []
    for _ in range(k - 1):
        a, b = divmod(int(np.argmin(cost)), k)
        a, b = min(a, b), max(a, b)
        total = w[a] + w[b]
        centre[a] = (w[a] * centre[a] + w[b] * centre[b]) / total
        w[a] = total
        alive[b] = False
        cost[b, :] = np.inf
        cost[:, b] = np.inf
        idx = np.flatnonzero(alive)
        idx = idx[idx != a]
        c = w[a] * w[idx] / (w[a] + w[idx]) * ((centre[idx] - centre[a]) ** 2).sum(axis=1)
        cost[a, idx] = c
        cost[idx, a] = c
        merges.append((a, b))
    return merges


def _cut(merges: list[tuple[int, int]], k: int, n_clusters: int) -> NDArray[np.intp]:
    """Labels (0..n_clusters-1) of the Ward tree cut at ``n_clusters``."""
    parent = np.arange(k)
    for a, b in merges[: k - n_clusters]:
        parent[parent == b] = a
    _, labels = np.unique(parent, return_inverse=True)
    return labels.astype(np.intp)


def _refine(
    points: NDArray[np.float64],
    weight: NDArray[np.float64],
    counts: NDArray[np.int64],
    labels: NDArray[np.intp],
    min_share: float,
    min_size: int,
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """k-means from a partition, then merge profiles below the floor into the nearest one.

    Loops until every profile holds at least ``min_share`` of the weight and ``min_size``
    respondents; the labels returned are nearest-centre labels (ties: lowest profile), so
    predicting the fitted answers gives them back.
    """
    total = weight.sum()
    centres = _means(points, weight, labels)
    while True:
        labels, centres = _lloyd(points, weight, centres)
        wsum = np.bincount(labels, weights=weight, minlength=len(centres))
        size = np.bincount(labels, weights=counts.astype(float), minlength=len(centres))
        small = (wsum < min_share * total * (1 - 1e-12)) | (size < min_size)
        if len(centres) == 1 or not small.any():
            return labels, centres
        # the smallest offending profile joins the profile with the nearest centre
        victim = int(np.flatnonzero(small)[np.argmin(wsum[small])])
        d = ((centres - centres[victim]) ** 2).sum(axis=1)
        d[victim] = np.inf
        target = int(np.argmin(d))
        labels = np.where(labels == victim, target, labels)
        _, labels = np.unique(labels, return_inverse=True)
        centres = _means(points, weight, labels.astype(np.intp))


def _means(
    points: NDArray[np.float64], weight: NDArray[np.float64], labels: NDArray[np.intp]
) -> NDArray[np.float64]:
    k = int(labels.max()) + 1
    wsum = np.bincount(labels, weights=weight, minlength=k)
    return (
        np.stack(
            [
                np.bincount(labels, weights=weight * points[:, j], minlength=k)
                for j in range(points.shape[1])
            ],
            axis=1,
        )
        / wsum[:, None]
    )


def _lloyd(
    points: NDArray[np.float64], weight: NDArray[np.float64], centres: NDArray[np.float64]
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Weighted k-means from ``centres``; profiles ordered by decreasing weight at the end."""
    labels = np.full(len(points), -1, dtype=np.intp)
    for _ in range(300):
        new, _ = _nearest_float(points, centres)
        # an emptied profile disappears
        used = np.unique(new)
        if len(used) < len(centres):
            centres = centres[used]
            new = np.searchsorted(used, new).astype(np.intp)
        if np.array_equal(new, labels):
            wsum = np.bincount(labels, weights=weight, minlength=len(centres))
            order = np.lexsort((*centres.T[::-1], -wsum))
            if np.array_equal(order, np.arange(len(order))):
                return labels, centres
            centres = centres[order]
            labels = np.full(len(points), -1, dtype=np.intp)
            continue
        labels = new
        centres = _means(points, weight, labels)
    logger.debug("k-means refinement stopped after 300 iterations")
    return labels, centres


def _nearest_float(
    points: NDArray[np.float64], centres: NDArray[np.float64]
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    labels = np.argmin(d2, axis=1).astype(np.intp)
    return labels, np.sqrt(d2[np.arange(len(points)), labels])


def _pairwise(points: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))


def _weighted_silhouette(
    dist: NDArray[np.float64], weight: NDArray[np.float64], labels: NDArray[np.intp]
) -> float:
    """Silhouette of weighted points, equal to scikit-learn's on the points repeated.

    ``dist`` is the matrix of distances between the points. A point of weight w stands for w
    identical answers: its own cluster's mean distance leaves one of them out (an answer is not
    its own neighbour); an answer alone in its cluster scores 0. Zero-weight points count for
    nothing.
    """
    k = int(labels.max()) + 1 if len(labels) else 0
    used = int((np.bincount(labels, weights=weight, minlength=k) > 0).sum()) if k else 0
    if used < 2 or used >= weight.sum():
        return float("nan")
    n = len(labels)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), labels] = weight
    to_cluster = dist @ onehot  # weighted sum of distances to each cluster
    size = onehot.sum(axis=0)
    own = size[labels] - 1.0
    a = np.divide(to_cluster[np.arange(n), labels], own, out=np.zeros(n), where=own > 0)
    mean_to = np.divide(
        to_cluster, size[None, :], out=np.full_like(to_cluster, np.inf), where=size[None, :] > 0
    )
    mean_to[np.arange(n), labels] = np.inf
    b = mean_to.min(axis=1)
    denom = np.maximum(a, b)
    s = np.divide(b - a, denom, out=np.zeros(n), where=(denom > 0) & (own > 0))
    return float((weight * s).sum() / weight.sum())


# --------------------------------------------------------------------------------------------
# Descriptions
# --------------------------------------------------------------------------------------------


def _level_shares(
    levels: NDArray[np.int8],
    members: NDArray[np.intp],
    k: int,
    weight: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """(Weighted) share of each profile's members at each level of each usage, (k, usages, 3)."""
    d = levels.shape[1]
    out = np.zeros((k, d, 3))
    for j in range(d):
        cell = members * 3 + (levels[:, j].astype(np.intp) - 1)
        out[:, j, :] = np.bincount(cell, weights=weight, minlength=3 * k).reshape(k, 3)
    total = out.sum(axis=2, keepdims=True)
    return np.divide(out, total, out=np.zeros_like(out), where=total > 0)


def _describe(
    shares: NDArray[np.float64],
    overall: NDArray[np.float64],
    usages: tuple[str, ...],
    max_items: int = 4,
) -> Msg:
    """Describe a profile by its dominant, distinctive usage levels.

    Statements about a usage: its most common level, plainly when at least 80 % of the members
    give it, "mostly ..." when at least half do; two adjacent levels together when at least 80 %
    give one of them ("no car day to day"). The statement of each usage that is the most more
    common in the profile than in the whole survey is kept if that excess is at least 5 points;
    the (at most four) statements are ranked by it, so the description says what sets the
    profile apart.
    """
    items: list[tuple[float, int, Msg]] = []
    for j, usage in enumerate(usages):
        p, base = shares[j], overall[j]
        level = int(np.argmax(p))
        candidates: list[tuple[float, Msg]] = []
        if p[level] >= 0.8 - 1e-12:
            candidates.append((p[level] - base[level], _PHRASES[usage][level + 1]))
        elif p[level] >= 0.5 - 1e-12:
            phrase = msg("plutôt {phrase}", phrase=_PHRASES[usage][level + 1])
            candidates.append((p[level] - base[level], phrase))
        for lo, pair in ((0, (1, 2)), (1, (2, 3))):
            if p[lo] + p[lo + 1] >= 0.8 - 1e-12:
                lift = p[lo] + p[lo + 1] - base[lo] - base[lo + 1]
                candidates.append((lift, _PAIR_PHRASES[usage][pair]))
        if candidates:
            lift, phrase = max(candidates, key=lambda c: c[0])  # first wins a tie: one level
            if lift >= _MIN_LIFT:
                items.append((float(lift), j, phrase))
    if not items:
        return _AVERAGE
    items.sort(key=lambda t: (-t[0], t[1]))
    return _Capitalized(join([phrase for _, _, phrase in items[:max_items]]))
