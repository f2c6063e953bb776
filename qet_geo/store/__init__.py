"""Persistence: the database models, engine and keyed hashes (:mod:`~qet_geo.store.models`), the
accounts of the web workspace (:mod:`~qet_geo.store.accounts`), the ingestion of survey uploads (:mod:`~qet_geo.store.ingest`), the analysis jobs the service runs
(:mod:`~qet_geo.store.jobs`), the releases that publish figures (:mod:`~qet_geo.store.releases`) and
the other surveys' figures they hold (:mod:`~qet_geo.store.perceived`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__ = attach(
    __name__, ["accounts", "ingest", "jobs", "models", "perceived", "releases"]
)

if TYPE_CHECKING:
    from qet_geo.store.accounts import *
    from qet_geo.store.ingest import *
    from qet_geo.store.jobs import *
    from qet_geo.store.models import *
    from qet_geo.store.perceived import *
    from qet_geo.store.releases import *
