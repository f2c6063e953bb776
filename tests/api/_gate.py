"""A job for the worker process of the extract upload that waits for a gate (tests only).

Kept apart from the test modules so that the worker imports it in milliseconds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def gated_job(gate: str, *args: Any, **kwargs: Any) -> Any:
    """Write the worker's pid to ``gate + ".started"``, wait for ``gate``, then run the real job."""
    from api._workers import store_extract_job

    Path(gate + ".started").write_text(str(os.getpid()))
    while not Path(gate).exists():
        time.sleep(0.01)
    return store_extract_job(*args, **kwargs)


def gated_survey_job(gate: str, *args: Any, **kwargs: Any) -> Any:
    """As :func:`gated_job`, for the survey upload's worker (``ingest_su_job``)."""
    from api._workers import ingest_su_job

    Path(gate + ".started").write_text(str(os.getpid()))
    while not Path(gate).exists():
        time.sleep(0.01)
    return ingest_su_job(*args, **kwargs)


def crashing_job(*args: Any, **kwargs: Any) -> Any:
    """A job that fails as a bug would (not a QetGeoError), quoting a respondent's value."""
    raise KeyError("respondent Zq9Secret42")


def counted_job(folder: str, gate: str) -> int:
    """Wait for ``gate`` while marked running in ``folder``; return how many ran at once."""
    mark = Path(folder) / f"running-{os.getpid()}"
    mark.write_text("1")
    seen = len(list(Path(folder).glob("running-*")))
    while not Path(gate).exists():
        time.sleep(0.01)
    mark.unlink()
    return seen
