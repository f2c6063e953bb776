"""Persistence: the database models, engine and keyed hashes (:mod:`~qet_geo.store.models`), the
accounts of the web workspace (:mod:`~qet_geo.store.accounts`), the ingestion of survey uploads (:mod:`~qet_geo.store.ingest`), the analysis jobs the service runs
(:mod:`~qet_geo.store.jobs`), the releases that publish figures (:mod:`~qet_geo.store.releases`) and
the other surveys' figures they hold (:mod:`~qet_geo.store.perceived`) and their sample against
the census (:mod:`~qet_geo.store.census_figures`), and the territory portal's
records: its address and phases (:mod:`~qet_geo.store.portal`), the forum's vote
(:mod:`~qet_geo.store.votes`), meetings and workshops (:mod:`~qet_geo.store.events`) and project
sheets (:mod:`~qet_geo.store.projects`), the network's questions and expertise directory
(:mod:`~qet_geo.store.community`), and the network's projects library
(:mod:`~qet_geo.store.library`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qet_geo._lazy import attach

__getattr__, __dir__ = attach(
    __name__,
    [
        "accounts",
        "census_figures",
        "community",
        "demo_network",
        "events",
        "ingest",
        "jobs",
        "library",
        "models",
        "open_data",
        "perceived",
        "portal",
        "projects",
        "release_files",
        "releases",
        "votes",
    ],
)

if TYPE_CHECKING:
    from qet_geo.store.accounts import *
    from qet_geo.store.census_figures import *
    from qet_geo.store.community import *
    from qet_geo.store.demo_network import *
    from qet_geo.store.events import *
    from qet_geo.store.ingest import *
    from qet_geo.store.jobs import *
    from qet_geo.store.library import *
    from qet_geo.store.models import *
    from qet_geo.store.open_data import *
    from qet_geo.store.perceived import *
    from qet_geo.store.portal import *
    from qet_geo.store.projects import *
    from qet_geo.store.release_files import *
    from qet_geo.store.releases import *
    from qet_geo.store.votes import *
