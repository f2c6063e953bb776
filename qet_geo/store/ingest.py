"""Survey uploads into the store: ingestion, deletion, pseudonyms, and the stored respondents.

Ingestion (:func:`ingest_su`, :func:`ingest_survey` for the MdV/EdV and NosGestesClimat surveys)
is one transaction per upload and idempotent: the SHA-256 of the file
(and the optional idempotency key) identify an upload; sending it again changes nothing. A process
killed mid-upload leaves no partial batch, since nothing is visible before the commit. The file
is read, its homes located and coarsened to 200 m cells and buildings
(:func:`qet_geo.privacy.coarsen_locations`), and its respondent ids replaced by keyed pseudonyms
before anything is written. :func:`respondents_frame` reads the stored respondents back, and
:func:`survey_frame` the other surveys' answers, for the figures (never published as is).

The other surveys' answers (:class:`~qet_geo.store.models.SurveyAnswer`) are keyed by the same
pseudonyms as the SU respondents, so that a person's NGC results or MdV answers link to their SU
answers; MdV homes are coarsened like SU homes (200 m cell, and the building key inside the store
only), NGC rows have no location.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qet_geo import grid
from qet_geo.errors import ValidationError
from qet_geo.i18n import msg
from qet_geo.store.models import (
    ConflictError,
    Diagnostic,
    NotFoundError,
    Profile,
    Respondent,
    SurveyAnswer,
    Upload,
    diagnostic_published,
    national_reference,
    pseudonym_key,
)

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

__all__ = [
    "FOOTPRINT_SCALE",
    "IngestResult",
    "assign_to_centres",
    "delete_upload",
    "ingest_su",
    "ingest_survey",
    "respondents_frame",
    "survey_frame",
]

#: The kgCO2e scale of the answer levels everywhere the store computes a footprint: the
#: respondents' stored footprints, the links, margins and vote themes of a release, as
#: ``qet diagnose``'s default. One scale, so that a page never sets a mean footprint beside a
#: margin or a French average computed on another (migration 0012 moved NEAR's table to it).
FOOTPRINT_SCALE: Literal["ngc"] = "ngc"

#: The surveys an upload may hold: SU (the respondents), MdV/EdV and NosGestesClimat.
SURVEY_KINDS: tuple[str, ...] = ("su", "mdv", "ngc")

logger = logging.getLogger(__name__)

# Test hook: called inside the ingestion transaction, just before the commit.
_BEFORE_COMMIT: Callable[[], None] | None = None


@dataclass(frozen=True)
class IngestResult:
    """What an upload did: its id, whether it was new, and the row counts."""

    upload_id: int
    created: bool
    n_rows: int
    n_stored: int
    summary: dict[str, Any]
    #: Whether the file's answers are synthetic (``qet survey synthesize``; see
    #: :func:`qet_geo.surveys.synthetic.synthetic_label`).
    synthetic: bool = False


def ingest_su(
    engine: Engine,
    diagnostic_id: int,
    data: bytes,
    *,
    idempotency_key: str | None = None,
    key_scope: str = "",
    replaces: int | None = None,
    addresses: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
) -> IngestResult:
    """Store an SU answer file in a diagnostic, in one transaction, idempotently.

    The file is read (:func:`~qet_geo.surveys.su.read_su`), the homes located
    (:func:`~qet_geo.surveys.geocode.locate_homes`) and coarsened to 200 m cells and buildings
    (:func:`~qet_geo.privacy.coarsen_locations`) before anything is written; raw locations are
    never stored. A file of synthetic answers (every row with a SYN- id or a true ``synthetic``
    column, as ``qet survey synthesize`` writes) is stored as such: the upload and its diagnostic
    are flagged ``synthetic``, and a diagnostic never mixes synthetic and real uploads. Each
    respondent gets a reference usage profile (the nearest national reference
    profile once :func:`qet_geo.store.jobs.fit_national_profiles` has stored them, the demo
    reference profiles before) and its footprint per usage.

    Parameters
    ----------
    engine
        The store.
    diagnostic_id
        The diagnostic the answers belong to.
    data
        The file's bytes (CSV, TSV or XLSX).
    idempotency_key
        Client key of the upload: a retry with the same key returns the first upload.
    key_scope
        Whose key it is (the service passes the caller's credential): keys are looked up within
        their scope only, so that one caller's key is never refused to, nor revealed to, another.
    replaces
        Id of an upload of the same diagnostic that this file replaces: its respondents and it
        are deleted in the transaction that stores the new file (see :func:`delete_upload`).
    addresses, buildings
        Reference layers for geocoding addresses (see ``locate_homes``).

    Returns
    -------
    IngestResult
        ``created`` is False when the same file (or key) was already stored: nothing changed.

    Raises
    ------
    NotFoundError
        No diagnostic ``diagnostic_id``.
    ConflictError
        The idempotency key was used by the same caller for another file, a respondent id is
        already stored from another file of the diagnostic, ``replaces`` names an upload of
        a published diagnostic, or the file is synthetic and the diagnostic's other uploads
        real (or the reverse).
    InputFileError, EmptyDataError, ValidationError
        The file cannot be read as SU answers (see ``read_su``), or it mixes synthetic and real
        answers.
    """
    return _ingest(
        engine,
        diagnostic_id,
        data,
        kind="su",
        idempotency_key=idempotency_key,
        key_scope=key_scope,
        replaces=replaces,
        addresses=addresses,
        buildings=buildings,
    )


def ingest_survey(
    engine: Engine,
    diagnostic_id: int,
    data: bytes,
    *,
    kind: str,
    idempotency_key: str | None = None,
    key_scope: str = "",
    replaces: int | None = None,
    addresses: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
) -> IngestResult:
    """Store a survey answer file of any kind in a diagnostic, in one transaction, idempotently.

    The rules of :func:`ingest_su` hold for every kind: the same file or idempotency key changes
    nothing, ``replaces`` deletes an upload of the same kind in the transaction that stores the
    new file, a diagnostic never mixes synthetic and real answers, respondent ids are replaced by
    keyed pseudonyms (the same as the SU respondents', so that the surveys of one person link)
    and raw locations are never stored.

    Parameters
    ----------
    engine, diagnostic_id, data, idempotency_key, key_scope, replaces
        As for :func:`ingest_su`.
    kind
        "su", "mdv" or "ngc". "su": :func:`ingest_su`. "mdv": MdV/EdV answers
        (:func:`qet_geo.surveys.mdv.read_mdv`); each home is located as
        :func:`qet_geo.analysis.perceived.read_located_mdv` locates it (a building key of the
        file when ``buildings`` holds it, else the coordinates, address or cell) and kept as its
        200 m cell and building key only. "ngc": NosGestesClimat results
        (:func:`qet_geo.surveys.ngc.read_ngc`), kgCO2e a year per category, without location.
        Their rows go to :class:`~qet_geo.store.models.SurveyAnswer`.
    addresses, buildings
        Reference layers for locating homes (SU and MdV): the neighbourhood's address points
        and buildings (indexed by building key). Without ``buildings``, a building key given in
        an MdV file is not kept (it cannot be checked) and the home is placed by its other
        columns.

    Returns
    -------
    IngestResult
        ``created`` is False when the same file (or key) was already stored: nothing changed.

    Raises
    ------
    ValidationError
        ``kind`` is not "su", "mdv" or "ngc"; and as for :func:`ingest_su`.
    NotFoundError, ConflictError, InputFileError, EmptyDataError
        As for :func:`ingest_su`; ConflictError also when the file is already stored as another
        survey, when ``replaces`` is an upload of another survey, or when a respondent id of the
        file is already stored for this survey from another file.
    """
    if kind not in SURVEY_KINDS:
        raise ValidationError(
            msg(
                "kind doit valoir 'su', 'mdv' ou 'ngc' (l'enquête du fichier), pas {kind!r}.",
                kind=kind,
            )
        )
    return _ingest(
        engine,
        diagnostic_id,
        data,
        kind=kind,
        idempotency_key=idempotency_key,
        key_scope=key_scope,
        replaces=replaces,
        addresses=addresses,
        buildings=buildings,
    )


def _ingest(
    engine: Engine,
    diagnostic_id: int,
    data: bytes,
    *,
    kind: str,
    idempotency_key: str | None,
    key_scope: str,
    replaces: int | None,
    addresses: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame | None,
) -> IngestResult:
    """The one ingestion transaction of every survey (see :func:`ingest_survey`)."""
    if not isinstance(data, bytes | bytearray):
        raise ValidationError(msg("data doit contenir les octets du fichier d'enquête."))
    digest = hashlib.sha256(data).hexdigest()
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        existing = _existing_upload(
            session, diagnostic_id, digest, idempotency_key, key_scope, kind=kind
        )
        if existing is not None:
            if replaces is not None and existing.upload_id != replaces:
                raise _already_uploaded(existing.upload_id)
            return existing
        if session.get(Diagnostic, diagnostic_id) is None:
            raise NotFoundError(
                msg("le diagnostic {diagnostic_id} n'existe pas.", diagnostic_id=diagnostic_id)
            )
        if replaces is not None:
            delete_upload(session, diagnostic_id, replaces, dry_run=True)
            _same_kind(session, replaces, kind)
        reference = national_reference(session) if kind == "su" else []
    if kind == "su":
        rows, summary = _prepare_rows(
            bytes(data), addresses=addresses, buildings=buildings, reference=reference
        )
    else:
        rows, summary = _prepare_other_rows(
            bytes(data), kind=kind, addresses=addresses, buildings=buildings
        )
    summary = dict(summary)
    synthetic = bool(summary.pop("synthetic", False))
    model: type[Respondent] | type[SurveyAnswer] = Respondent if kind == "su" else SurveyAnswer
    try:
        with factory.begin() as session:
            if replaces is not None:
                delete_upload(session, diagnostic_id, replaces)
            _label_diagnostic(session, diagnostic_id, synthetic)
            upload = Upload(
                diagnostic_id=diagnostic_id,
                sha256=digest,
                idempotency_key=idempotency_key,
                key_scope=key_scope,
                kind=kind,
                n_rows=int(summary.get("rows", len(rows))),
                n_stored=len(rows),
                summary=summary,
                synthetic=synthetic,
            )
            session.add(upload)
            session.flush()
            pseudo_ids = [r["pseudo_id"] for r in rows]
            if kind == "su":
                query = select(Respondent.pseudo_id).where(
                    Respondent.diagnostic_id == diagnostic_id,
                    Respondent.pseudo_id.in_(pseudo_ids),
                )
            else:
                query = select(SurveyAnswer.pseudo_id).where(
                    SurveyAnswer.diagnostic_id == diagnostic_id,
                    SurveyAnswer.kind == kind,
                    SurveyAnswer.pseudo_id.in_(pseudo_ids),
                )
            taken = set(session.scalars(query))
            if taken:
                raise ConflictError(
                    msg(
                        "{n} identifiants de répondants de ce fichier sont déjà enregistrés pour "
                        "le diagnostic {diagnostic_id} (autre fichier) : retirez-les ou corrigez "
                        "les identifiants.",
                        n=len(taken),
                        diagnostic_id=diagnostic_id,
                    )
                )
            extra = {} if kind == "su" else {"kind": kind}
            session.add_all(
                model(diagnostic_id=diagnostic_id, upload_id=upload.id, **extra, **row)
                for row in rows
            )
            session.flush()
            if _BEFORE_COMMIT is not None:
                _BEFORE_COMMIT()
            upload_id = upload.id
    except IntegrityError:
        # A concurrent upload of the same file won the race: report it as the existing one.
        with factory() as session:
            existing = _existing_upload(
                session, diagnostic_id, digest, idempotency_key, key_scope, kind=kind
            )
        if existing is None:
            raise
        if replaces is not None and existing.upload_id != replaces:
            raise _already_uploaded(existing.upload_id) from None
        return existing
    logger.info("upload %s (%s): %s rows stored", upload_id, kind, len(rows))
    n_rows = int(summary.get("rows", len(rows)))
    return IngestResult(upload_id, True, n_rows, len(rows), summary, synthetic)


_KIND_NAMES: dict[str, Any] = {
    "su": msg("SU (profils d'usages)"),
    "mdv": msg("MdV/EdV (modes et espaces de vie)"),
    "ngc": msg("NosGestesClimat"),
}


def _same_kind(session: Session, upload_id: int, kind: str) -> None:
    """Refuse to replace an upload of one survey by a file of another."""
    upload = session.get(Upload, upload_id)
    stored = (upload.kind if upload is not None else None) or "su"
    if stored != kind:
        raise ConflictError(
            msg(
                "l'envoi {upload_id} est une enquête {stored} et ce fichier une enquête {kind} : "
                "remplacez un envoi par un fichier de la même enquête, ou déposez ce fichier "
                "comme un nouvel envoi.",
                upload_id=upload_id,
                stored=_KIND_NAMES.get(stored, stored),
                kind=_KIND_NAMES.get(kind, kind),
            )
        )


def _label_diagnostic(session: Session, diagnostic_id: int, synthetic: bool) -> None:
    """Give the diagnostic the label of its new upload, refusing to mix synthetic and real.

    The diagnostic's row is locked (PostgreSQL) so that two uploads of different kinds sent at
    once to an empty diagnostic cannot both pass.
    """
    diag = session.get(Diagnostic, diagnostic_id, with_for_update=True)
    if diag is None:
        raise NotFoundError(
            msg("le diagnostic {diagnostic_id} n'existe pas.", diagnostic_id=diagnostic_id)
        )
    others = session.scalars(
        select(Upload.id).where(Upload.diagnostic_id == diagnostic_id).limit(1)
    ).first()
    if others is not None and bool(diag.synthetic) != synthetic:
        if synthetic:
            text = msg(
                "ce fichier contient des réponses synthétiques (identifiants SYN-…, générées par "
                "qet survey synthesize), et le diagnostic {diagnostic_id} des réponses d'enquête "
                "réelles : un diagnostic ne mélange jamais les deux. Envoyez les réponses "
                "synthétiques à un autre diagnostic (une démonstration), ou supprimez d'abord les "
                "envois réels de celui-ci.",
                diagnostic_id=diagnostic_id,
            )
        else:
            text = msg(
                "ce fichier contient des réponses d'enquête réelles, et le diagnostic "
                "{diagnostic_id} des réponses synthétiques (une démonstration) : un diagnostic ne "
                "mélange jamais les deux. Envoyez les réponses réelles à un autre diagnostic, ou "
                "supprimez d'abord les envois synthétiques de celui-ci.",
                diagnostic_id=diagnostic_id,
            )
        raise ConflictError(text)
    diag.synthetic = synthetic


def _already_uploaded(upload_id: int) -> ConflictError:
    return ConflictError(
        msg(
            "ce fichier est déjà enregistré (envoi {upload_id} du diagnostic) : supprimez "
            "cet envoi plutôt que d'en remplacer un autre par le même fichier.",
            upload_id=upload_id,
        )
    )


def _existing_upload(
    session: Session,
    diagnostic_id: int,
    digest: str,
    key: str | None,
    scope: str = "",
    *,
    kind: str = "su",
) -> IngestResult | None:
    """Return the upload this one repeats: the same file in the diagnostic, or the same key.

    A key is looked up among the keys of ``scope`` (the caller) only: another caller's key of
    the same value is neither a conflict nor a hit, so it reveals nothing and cannot be squatted.
    The same file stored as another survey is a conflict: one file is one survey.
    """
    found = None
    if key is not None:
        found = session.scalars(
            select(Upload).where(Upload.key_scope == scope, Upload.idempotency_key == key)
        ).first()
        if found is not None and (found.sha256 != digest or found.diagnostic_id != diagnostic_id):
            raise ConflictError(
                msg(
                    "vous avez déjà utilisé cette clé d'idempotence pour un autre fichier : "
                    "utilisez une nouvelle clé."
                )
            )
    if found is None:
        found = session.scalars(
            select(Upload).where(Upload.diagnostic_id == diagnostic_id, Upload.sha256 == digest)
        ).first()
    if found is None:
        return None
    if (found.kind or "su") != kind:
        raise ConflictError(
            msg(
                "ce fichier est déjà enregistré comme enquête {stored} (envoi {upload_id}) : "
                "vérifiez l'enquête choisie, ou supprimez d'abord cet envoi.",
                stored=_KIND_NAMES.get(found.kind or "su", found.kind),
                upload_id=found.id,
            )
        )
    return IngestResult(
        found.id, False, found.n_rows, found.n_stored, dict(found.summary), bool(found.synthetic)
    )


def delete_upload(
    session: Session, diagnostic_id: int, upload_id: int, *, dry_run: bool = False
) -> int:
    """Delete an upload of an unpublished diagnostic and its answers, in ``session``.

    Both go in the caller's transaction: either the whole upload is gone or none of it. A pilot
    team uses it to take back a wrong or truncated file, which could otherwise never be fixed
    (its respondent ids would clash with the corrected file's). Once its last upload is gone,
    the diagnostic is no longer ``synthetic``: the next file sets the label again.

    Parameters
    ----------
    session
        An open session; the caller commits.
    diagnostic_id
        The diagnostic the upload must belong to.
    upload_id
        The upload.
    dry_run
        Only check that the upload may be deleted.

    Returns
    -------
    int
        The number of answers deleted, SU respondents or the other surveys' answers (0 for a
        dry run). They are deleted here, not left to the foreign keys' cascade (SQLite applies
        it only when its connection enables foreign keys).

    Raises
    ------
    NotFoundError
        No upload ``upload_id`` in the diagnostic.
    ConflictError
        The diagnostic is published (:func:`diagnostic_published`): its uploads are frozen.
    """
    from sqlalchemy import delete

    upload = session.get(Upload, upload_id)
    if upload is None or upload.diagnostic_id != diagnostic_id:
        raise NotFoundError(
            msg(
                "l'envoi {upload_id} n'existe pas dans le diagnostic {diagnostic_id}.",
                upload_id=upload_id,
                diagnostic_id=diagnostic_id,
            )
        )
    if diagnostic_published(session, diagnostic_id):
        raise ConflictError(
            msg(
                "le diagnostic {diagnostic_id} est publié (il a une publication) : ses envois ne "
                "peuvent plus être supprimés ni remplacés ; ajoutez des réponses, ou ouvrez un "
                "nouveau diagnostic.",
                diagnostic_id=diagnostic_id,
            )
        )
    if dry_run:
        return 0
    gone = session.execute(
        delete(Respondent).where(
            Respondent.upload_id == upload_id, Respondent.diagnostic_id == diagnostic_id
        )
    )
    n_gone = int(getattr(gone, "rowcount", 0) or 0)
    others = session.execute(
        delete(SurveyAnswer).where(
            SurveyAnswer.upload_id == upload_id, SurveyAnswer.diagnostic_id == diagnostic_id
        )
    )
    n_gone += int(getattr(others, "rowcount", 0) or 0)
    session.delete(upload)
    session.flush()
    left = session.scalars(
        select(Upload.id).where(Upload.diagnostic_id == diagnostic_id).limit(1)
    ).first()
    if left is None:  # an empty diagnostic is neither synthetic nor real: its next file decides
        diag = session.get(Diagnostic, diagnostic_id)
        if diag is not None:
            diag.synthetic = False
    logger.info("upload %s deleted: %s answers", upload_id, n_gone)
    return n_gone


def _prepare_rows(
    data: bytes,
    *,
    addresses: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame | None,
    reference: Sequence[Profile] = (),
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Read, locate and coarsen the file's rows; the summary's ``synthetic`` is the file's label."""
    import pandas as pd

    from qet_geo.analysis.footprint import su_footprints
    from qet_geo.surveys.schema import USAGES
    from qet_geo.surveys.su import read_su
    from qet_geo.surveys.synthetic import survey_synthetic_label

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = read_su(io.BytesIO(data))
    # before anything else is computed: a file mixing synthetic and real answers is refused
    synthetic = survey_synthetic_label(read, io.BytesIO(data), name=msg("le fichier envoyé"))
    answers = read.answers
    summary: dict[str, Any] = {k: int(v) for k, v in read.summary().items()}
    summary["synthetic"] = synthetic  # taken out by ingest_su: a flag, not a row count
    places = _protected_places(read.locations, answers.index, addresses, buildings)
    _check_cell_sizes(places)
    usages = [u for u in USAGES if u in answers.columns]
    feet = (
        su_footprints(answers, usages=usages, scale=FOOTPRINT_SCALE)
        if usages
        else pd.DataFrame(index=answers.index)
    )
    complete = answers[usages].notna().all(axis=1) if len(usages) == len(USAGES) else None
    profiles = pd.Series(pd.NA, index=answers.index, dtype="Int64")
    if complete is not None and complete.any():
        if reference:  # the network's national reference profiles, once fitted
            profiles.loc[complete] = assign_to_centres(answers.loc[complete, usages], reference)
        else:  # before that, the demo reference profiles
            profiles.loc[complete] = _reference_profiles().predict(answers.loc[complete, usages])
    rows = []
    for rid in answers.index:
        place = places.loc[rid] if rid in places.index else None
        levels: dict[str, int | str | None] = {u: _int_or_none(answers.at[rid, u]) for u in usages}
        for extra in ("age_band", "gender", "csp"):
            if extra in answers.columns:
                value: Any = answers.at[rid, extra]
                levels[extra] = None if pd.isna(value) else str(value)
        foot = {c: _float_or_none(feet.at[rid, c]) for c in feet.columns}
        rows.append(
            {
                "pseudo_id": _pseudonym(str(rid)),
                "cell_id": _text_or_none(place, "cell_id"),
                "building_key": _text_or_none(place, "building_key"),
                "iris_code": _text_or_none(place, "iris_code"),
                "answers": levels,
                "profile": _int_or_none(profiles.at[rid]),
                "footprint": foot,
                "total_kgco2e": foot.get("total_kgco2e"),
            }
        )
    return rows, summary


def _prepare_other_rows(
    data: bytes,
    *,
    kind: str,
    addresses: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Read an MdV or NGC file, locate and coarsen MdV homes; the summary's ``synthetic`` is
    the file's label."""
    from qet_geo.surveys.mdv import read_mdv
    from qet_geo.surveys.ngc import read_ngc
    from qet_geo.surveys.schema import NGC_COLUMNS
    from qet_geo.surveys.synthetic import survey_synthetic_label

    reader = read_mdv if kind == "mdv" else read_ngc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read = reader(io.BytesIO(data))
    synthetic = survey_synthetic_label(read, io.BytesIO(data), name=msg("le fichier envoyé"))
    answers = read.answers
    summary: dict[str, Any] = {k: int(v) for k, v in read.summary().items()}
    summary["synthetic"] = synthetic
    if kind == "ngc":
        columns = [c for c in NGC_COLUMNS if c in answers.columns]
        places = None
    else:
        columns = list(answers.columns)
        locations = read.locations.copy()
        locations.index = answers.index
        places = _mdv_places(locations, addresses, buildings)
        _check_cell_sizes(places)
    rows = []
    for rid in answers.index:
        place = places.loc[rid] if places is not None and rid in places.index else None
        values = {c: _json_value(answers.at[rid, c]) for c in columns}
        rows.append(
            {
                "pseudo_id": _pseudonym(str(rid)),
                "cell_id": _text_or_none(place, "cell_id"),
                "building_key": _text_or_none(place, "building_key"),
                "answers": values,
            }
        )
    return rows, summary


def _mdv_places(
    locations: pd.DataFrame,
    addresses: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame | None,
) -> pd.DataFrame:
    """Each MdV home's 200 m cell and building key, as ``read_located_mdv`` finds them.

    A building key of the file is kept when ``buildings`` holds it (its cell is the building's);
    the other homes are located by their coordinates, address or cell
    (:func:`qet_geo.surveys.geocode.locate_homes`) and coarsened
    (:func:`qet_geo.privacy.coarsen_locations`). Raw coordinates and addresses go no further.
    """
    import pandas as pd

    out = pd.DataFrame(index=locations.index, columns=["cell_id", "building_key"], dtype=object)
    known = pd.Series(False, index=locations.index)
    if buildings is not None and "building_key" in locations.columns and len(buildings):
        keys = locations["building_key"].astype("string").str.strip()
        known = keys.isin(buildings.index.astype(str)).fillna(False).astype(bool)
        if known.any():
            from qet_geo.inputs.census import point_to_cell_id

            chosen = keys[known].to_numpy(dtype=str)
            points = buildings.loc[chosen].geometry.representative_point()
            out.loc[known, "building_key"] = chosen
            out.loc[known, "cell_id"] = point_to_cell_id(points).to_numpy()
    rest = locations.loc[~known.to_numpy(dtype=bool)]
    if len(rest):
        coarse = _protected_places(rest, rest.index, addresses, buildings)
        for column in ("cell_id", "building_key"):
            if column in coarse.columns:
                values = coarse[column].astype(object).where(coarse[column].notna(), None)
                out.loc[coarse.index, column] = values.to_numpy()
    return out


def _json_value(value: Any) -> Any:
    """An answer as JSON: text, a whole number, a float, or None for a missing one."""
    import numpy as np
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    return str(value)


@lru_cache(maxsize=1)
def _reference_profiles() -> Any:
    """Return the demo reference profiles (NEAR's survey 0), fitted once (before a national fit)."""
    from qet_geo.analysis.profiles import UsageProfiles
    from qet_geo.analysis.reference import reference_profiles

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return UsageProfiles(random_state=0).fit(reference_profiles())


def _check_cell_sizes(places: pd.DataFrame) -> None:
    """Refuse cell ids that are not 200 m INSEE cells (a 1 km ``CRS3035RES1000m…`` one).

    Every figure is built on 200 m cells, pooled upwards: one 1 km cell among them (or a file
    of them) overlaps the 200 m cells of the diagnostic, and its indicators could no longer be
    computed, for this file and every later one.
    """
    if "cell_id" not in places.columns:
        return
    cells = places["cell_id"].dropna().astype(str)
    sizes = cells.str.extract(grid.CELL_SIZE.pattern, expand=False)
    other = cells[sizes.notna() & (sizes != "200")]
    if other.empty:
        return
    example = str(other.iloc[0])
    raise ValidationError(
        msg(
            "{n} domiciles sont donnés par des carreaux qui ne sont pas des carreaux "
            "INSEE de 200 m (par exemple {example!r}) : le service range chaque domicile "
            "dans son carreau de 200 m, et un fichier ne doit pas mélanger les tailles de "
            "carreau. Donnez ces domiciles par leur carreau de 200 m (CRS3035RES200mN…E…), "
            "leur adresse ou leurs coordonnées.",
            n=len(other),
            example=example,
        )
    )


def _pseudonym(respondent_id: str) -> str:
    """Keyed hash of a respondent id: the file's ids may be names, e-mails or 1, 2, 3...

    An HMAC with a secret kept outside the database (:func:`pseudonym_key`), so that a copy of
    the database alone cannot be turned back into ids by hashing guesses. Stable for a given key,
    which keeps uploads idempotent and overlapping ids detectable.
    """
    digest = hmac.new(pseudonym_key(), ("qet-respondent:" + respondent_id).encode(), "sha256")
    return digest.hexdigest()[:32]


def _protected_places(
    locations: pd.DataFrame,
    index: pd.Index,
    addresses: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame | None,
) -> pd.DataFrame:
    import pandas as pd

    from qet_geo.privacy import coarsen_locations
    from qet_geo.surveys.geocode import locate_homes
    from qet_geo.surveys.schema import LOCATION_COLUMNS

    if locations is not None:
        # what locate_homes geocodes; a building key given in the file is not taken on trust
        locations = locations[[c for c in LOCATION_COLUMNS if c in locations.columns]]
    if locations is None or locations.empty or len(locations.columns) == 0:
        return pd.DataFrame(index=index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        located = locate_homes(locations, addresses=addresses, buildings=buildings)
        coarse = coarsen_locations(located, keep_building=True, keep_raw=False)
    return pd.DataFrame(coarse)


def _text_or_none(row: Any, key: str) -> str | None:
    import pandas as pd

    if row is None or key not in row.index:
        return None
    value = row[key]
    return None if pd.isna(value) else str(value)


def _int_or_none(value: Any) -> int | None:
    import pandas as pd

    return None if pd.isna(value) else int(value)


def _float_or_none(value: Any) -> float | None:
    import pandas as pd

    return None if pd.isna(value) else float(value)


def assign_to_centres(levels: pd.DataFrame, centres: Sequence[Profile]) -> pd.Series:
    """Give each complete answer the number of the profile with the nearest centre.

    Parameters
    ----------
    levels
        SU answers, one column per usage of the centres (levels 1 to 3).
    centres
        Stored profiles (their ``centre`` in level steps, as :class:`Profile` keeps them).

    Returns
    -------
    pandas.Series
        Profile ``number`` per answer (Int64), ``<NA>`` for an incomplete answer. Ties go to the
        lowest number, as :meth:`qet_geo.analysis.profiles.UsageProfiles.predict` does.
    """
    import numpy as np
    import pandas as pd

    ordered = sorted(centres, key=lambda p: p.number)
    out = pd.Series(pd.NA, index=levels.index, dtype="Int64")
    if not ordered:
        return out
    usages = list(ordered[0].centre)
    if any(u not in levels.columns for u in usages):
        return out
    values = levels[usages].apply(pd.to_numeric, errors="coerce")
    complete = values.notna().all(axis=1).to_numpy()
    points = values.to_numpy(dtype=float)[complete] - 1.0
    grid = np.array([[float(p.centre[u]) for u in usages] for p in ordered])
    d = ((points[:, None, :] - grid[None, :, :]) ** 2).sum(axis=2)
    if len(points):
        numbers = np.array([p.number for p in ordered], dtype=np.int64)
        out.iloc[np.flatnonzero(complete)] = numbers[d.argmin(axis=1)]
    return out


def respondents_frame(session: Session, diagnostic_id: int, *, keys: bool = False) -> pd.DataFrame:
    """Return the stored respondents of a diagnostic as a frame (never published as is).

    Columns: ``pseudo_id`` (the index), ``cell_id``, ``iris_code``, ``profile``,
    ``total_kgco2e``, one ``{usage}_kgco2e`` column per usage and the levels of every usage. Feed
    it to :func:`qet_geo.privacy.safe_aggregate` before anything leaves the service.

    With ``keys``, also ``row_id`` (the store's id) and ``key``
    (:func:`qet_geo.store.releases.respondent_key`), which a release compares with the earlier
    ones.
    """
    import pandas as pd

    from qet_geo.store.releases import respondent_key

    rows = session.execute(
        select(
            Respondent.id,
            Respondent.pseudo_id,
            Respondent.cell_id,
            Respondent.iris_code,
            Respondent.profile,
            Respondent.total_kgco2e,
            Respondent.footprint,
            Respondent.answers,
        ).where(Respondent.diagnostic_id == diagnostic_id)
    ).all()
    records = []
    for row_id, pseudo, cell, iris, profile, total, foot, answers in rows:
        rec: dict[str, Any] = {"row_id": int(row_id)} if keys else {}
        rec.update(
            pseudo_id=pseudo, cell_id=cell, iris_code=iris, profile=profile, total_kgco2e=total
        )
        if keys:
            rec["key"] = respondent_key(pseudo, cell, answers, foot, total)
        rec.update({k: v for k, v in (foot or {}).items() if k != "total_kgco2e"})
        rec.update(dict(answers or {}))
        records.append(rec)
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        columns = ["pseudo_id", "cell_id", "iris_code", "profile"]
        frame = pd.DataFrame(columns=["row_id", *columns, "key"] if keys else columns)
    frame["profile"] = frame["profile"].astype("Int64")
    return frame.set_index("pseudo_id")


def survey_frame(session: Session, diagnostic_id: int, kind: str) -> pd.DataFrame:
    """Return the stored MdV/EdV or NosGestesClimat answers of a diagnostic (never published as is).

    Parameters
    ----------
    session
        An open session.
    diagnostic_id
        The diagnostic.
    kind
        "mdv" or "ngc".

    Returns
    -------
    pandas.DataFrame
        Indexed by ``pseudo_id`` (the keyed pseudonym, the same as the SU respondents'). For
        "mdv", the frame :func:`qet_geo.analysis.perceived.read_located_mdv` gives: the MdV
        question columns with :func:`qet_geo.surveys.mdv.read_mdv`'s types (categories, text,
        levels), ``building_key``, ``cell_id`` and ``synthetic`` (``attrs["synthetic"]`` too).
        For "ngc", the columns of :data:`qet_geo.surveys.schema.NGC_COLUMNS` in kgCO2e a year as
        :func:`qet_geo.analysis.footprint.read_ngc_results` gives them (NaN for a figure the
        file lacked; ``total`` the sum of the five categories when the file had no total).
        Feed it to :mod:`qet_geo.privacy` before anything leaves the service.

    Raises
    ------
    ValidationError
        ``kind`` is not "mdv" or "ngc".
    """
    import pandas as pd

    from qet_geo.surveys.schema import NGC_CATEGORIES, NGC_COLUMNS

    if kind not in ("mdv", "ngc"):
        raise ValidationError(msg("kind doit valoir 'mdv' ou 'ngc', pas {kind!r}.", kind=kind))
    rows = session.execute(
        select(
            SurveyAnswer.pseudo_id,
            SurveyAnswer.cell_id,
            SurveyAnswer.building_key,
            SurveyAnswer.answers,
        )
        .where(SurveyAnswer.diagnostic_id == diagnostic_id, SurveyAnswer.kind == kind)
        .order_by(SurveyAnswer.id)
    ).all()
    diag = session.get(Diagnostic, diagnostic_id)
    synthetic = bool(diag.synthetic) if diag is not None else False
    records = [dict(answers or {}) | {"pseudo_id": pseudo} for pseudo, _, _, answers in rows]
    frame = pd.DataFrame.from_records(records, columns=None if records else ["pseudo_id"])
    frame = frame.set_index("pseudo_id")
    if kind == "ngc":
        out = frame.reindex(columns=list(NGC_COLUMNS)).astype(float)
        no_total = out["total"].isna()
        if no_total.any():
            out.loc[no_total, "total"] = out.loc[no_total, list(NGC_CATEGORIES)].sum(
                axis=1, min_count=len(NGC_CATEGORIES)
            )
        out.attrs["synthetic"] = synthetic
        return out
    out = _mdv_types(frame)
    out["building_key"] = pd.array([r[2] for r in rows], dtype="string")
    out["cell_id"] = pd.array([r[1] for r in rows], dtype="string")
    if synthetic:
        out["synthetic"] = True
    out.attrs["synthetic"] = synthetic
    return out


def _mdv_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Give stored MdV answers the types :func:`qet_geo.surveys.mdv.read_mdv` gives them."""
    import pandas as pd

    from qet_geo.surveys._headers import survey_fields
    from qet_geo.surveys.schema import TIME_BANDS, TRAVEL_MODES, WILLINGNESS, YES_NO

    orders: dict[str, tuple[tuple[str, ...], bool]] = {
        "yes_no": (tuple(YES_NO), False),
        "mode": (tuple(TRAVEL_MODES), False),
        "time_band": (tuple(TIME_BANDS), True),
        "willingness": (tuple(WILLINGNESS), True),
    }
    kinds = {spec.key: spec.kind for spec in survey_fields("mdv")}
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        field = kinds.get(column)
        if field in orders:
            categories, ordered = orders[field]
            out[column] = pd.Categorical(
                values.where(values.notna(), None), categories=list(categories), ordered=ordered
            )
        elif field == "level":
            out[column] = pd.to_numeric(values, errors="coerce").astype("Int8")
        else:
            out[column] = values.astype("string")
    return out
