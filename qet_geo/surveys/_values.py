"""What the answers of a survey file mean: labels, levels, person columns and figures.

Answers are matched against the labels of :mod:`qet_geo.surveys.schema` (French as exported by
NEAR, English, NEAR's enum names and synonyms): exact after normalisation; then *prefix* (a
truncated label of at least 4 characters that starts exactly one known label, or a known label
followed by more words); then *fuzzy* (rapidfuzz ratio of at least 88 with a margin of 5 points
over any other answer). NEAR's export truncates labels at the comma ("Mobilités actives (vélo,
marche", "électricité, réseau de chaleur,"): normalisation alone reads those. Fuzzy matches are
noted in the report. Figures accept decimal commas and spaces between thousands.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from typing import Any

import pandas as pd

from qet_geo.i18n import LANGS, Msg, msg
from qet_geo.surveys._headers import Field
from qet_geo.surveys.answers import RowIssues
from qet_geo.surveys.schema import (
    AGE_BANDS,
    CHANGE_REASON_SYNONYMS,
    CHANGE_REASONS,
    CSP_LABELS,
    CSP_SYNONYMS,
    GENDER_SYNONYMS,
    GENDERS,
    LEVEL_LABELS,
    LEVEL_SYNONYMS,
    TIME_BAND_LABELS,
    TIME_BAND_SYNONYMS,
    TRAVEL_MODE_LABELS,
    TRAVEL_MODE_SYNONYMS,
    USAGE_LABELS,
    USAGES,
    WILLINGNESS_LABELS,
    WILLINGNESS_SYNONYMS,
    YES_NO_LABELS,
    YES_NO_SYNONYMS,
    normalise_label,
)
from qet_geo.surveys.tables import Table, is_missing

#: A whole number, as a numeric code is written ("2", "2.0").
INTEGER = re.compile(r"^[+-]?\d+(?:\.0+)?$")

_FUZZY_CUTOFF = 88.0
_FUZZY_MARGIN = 5.0


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
    for level, label in LEVEL_LABELS[usage].items():
        for lang in LANGS:
            mapping[label.render(lang)] = level
    for text, level in LEVEL_SYNONYMS.get(usage, {}).items():
        mapping.setdefault(text, level)
    return _Vocabulary(mapping)


def _labelled_vocabulary(labels: Mapping[str, Msg], synonyms: Mapping[str, str]) -> _Vocabulary:
    mapping: dict[str, Hashable] = {key: key for key in labels}
    for key, label in labels.items():
        for lang in LANGS:
            mapping[label.render(lang)] = key
    for text, key in synonyms.items():
        mapping.setdefault(text, key)
    return _Vocabulary(mapping)


_VOCABULARIES: dict[str, _Vocabulary] = {}


def vocabulary(name: str) -> _Vocabulary:
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
            mapping: dict[str, Hashable] = {code: code for code in CSP_LABELS}
            for lang in LANGS:
                for code, label in CSP_LABELS.items():
                    mapping[label.render(lang)] = code
            mapping.update(CSP_SYNONYMS)
            _VOCABULARIES[name] = _Vocabulary(mapping)
        else:  # pragma: no cover - internal names only
            raise KeyError(name)
    return _VOCABULARIES[name]


def label_fr(key: str) -> str:
    if key in USAGES:
        return USAGE_LABELS[key].render("fr")
    return key


def no_answer(usage: str) -> Msg:
    """The reason of a row that leaves the question on ``usage`` blank."""
    return msg("pas de réponse à la question {question}", question=label_fr(usage), usage=usage)


def parse_levels(values: list[str], usage: str, rows: RowIssues) -> pd.Series:
    vocab = vocabulary(usage)
    out: list[Any] = []
    for i, raw in enumerate(values):
        norm = normalise_label(raw)
        if is_missing(norm):
            out.append(pd.NA)
            rows.add(i, "partial", no_answer(usage))
            continue
        level, how = vocab.match(norm)
        if level is None:
            out.append(pd.NA)
            hint: Msg | str = ""
            if INTEGER.match(raw):
                hint = msg(
                    " (un nombre n'est lu comme code de réponse que si toute la colonne est en "
                    "codes 1, 2, 3 : écrivez la réponse en toutes lettres, ou codez toute la "
                    "colonne)"
                )
            rows.add(
                i,
                "rejected",
                msg(
                    "réponse inconnue {raw!r} à la question {question} ; attendu l'une de "
                    "{expected}{hint}",
                    raw=raw,
                    question=label_fr(usage),
                    expected=[LEVEL_LABELS[usage][k].render("fr") for k in (1, 2, 3)],
                    hint=hint,
                    usage=usage,
                ),
            )
            continue
        out.append(level)
        if how == "fuzzy":
            label = LEVEL_LABELS[usage][int(str(level))].render("fr")
            rows.add(
                i,
                "note",
                msg(
                    "{raw!r} lu comme {label!r} (orthographe proche) pour {question}",
                    raw=raw,
                    label=label,
                    question=label_fr(usage),
                    usage=usage,
                ),
            )
    return pd.Series(out, dtype="Int8")


def parse_person(table: Table, found: Mapping[int, Field], rows: RowIssues) -> dict[str, pd.Series]:
    """Age band, gender and socio-professional category, when the file has them."""
    out: dict[str, pd.Series] = {}
    for i, spec in found.items():
        if spec.kind not in ("age", "gender", "csp"):
            continue
        values = table.column(i)
        parsed: list[Any] = []
        for r, raw in enumerate(values):
            norm = normalise_label(raw)
            if is_missing(norm):
                parsed.append(None)
                continue
            value = _person_value(spec.kind, norm)
            if value is None:
                rows.add(
                    r,
                    "partial",
                    msg("{key} {raw!r} non compris (laissé vide)", key=spec.key, raw=raw),
                )
            parsed.append(value)
        if spec.kind == "age":
            out["age_band"] = pd.Series(
                pd.Categorical(parsed, categories=list(AGE_BANDS), ordered=True)
            )
        elif spec.kind == "gender":
            out["gender"] = pd.Series(pd.Categorical(parsed, categories=list(GENDERS)))
        else:
            out["csp"] = pd.Series(pd.Categorical(parsed, categories=sorted(CSP_LABELS)))
    return out


def _person_value(kind: str, norm: str) -> str | None:
    if kind == "age":
        return _age_band(norm)
    if kind == "csp":
        code = re.fullmatch(r"(?:cs)?\s*([1-8])(?:_.*)?|([1-8])\d", norm)
        if code:
            return f"CS{code.group(1) or code.group(2)}"
    value, _ = vocabulary(kind).match(norm)
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


_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?$")


def parse_number(raw: str) -> float | None:
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
