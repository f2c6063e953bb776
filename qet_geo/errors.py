"""Public error hierarchy of qet-geo.

Every error raised on bad user input is a :class:`QetGeoError`. Its message names the input and says
how to fix it; ``message_fr`` carries the French text shown by the CLI and the API (the default
language of user-facing text), ``str(err)`` the English one for logs and notebooks.

The CLI turns any ``QetGeoError`` into one line on stderr and exit code 2; the service maps each
class to an HTTP status in one table.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "CRSError",
    "DataCoverageError",
    "EmptyDataError",
    "InputFileError",
    "QetGeoError",
    "QetGeoWarning",
    "UnknownCodeError",
    "ValidationError",
]


class QetGeoError(Exception):
    """Base class of every error qet-geo raises on bad input or impossible requests.

    Parameters
    ----------
    message
        English message: what is wrong and how to fix it.
    message_fr
        French message shown to users; defaults to the English one.
    path
        The file the error is about, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        message_fr: str | None = None,
        path: str | PathLike[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.message_fr = message_fr or message
        self.path = None if path is None else str(path)

    def localized(self, lang: str = "fr") -> str:
        """Return the message in ``lang`` ("fr" or "en")."""
        return self.message_fr if lang == "fr" else self.message


class ValidationError(QetGeoError, ValueError):
    """An argument or a table does not have the expected form (columns, values, geometry types)."""


class InputFileError(QetGeoError, OSError):
    """A file is missing, unreadable, truncated, or not of the expected format."""


class CRSError(ValidationError):
    """A layer or raster has no coordinate reference system, or one that cannot be used."""


class EmptyDataError(ValidationError):
    """An input holds nothing usable (an empty extract, a table with no valid row)."""


class DataCoverageError(ValidationError):
    """An input does not cover the territory asked for (an extract elsewhere in France)."""


class UnknownCodeError(ValidationError, KeyError):
    """An IRIS, commune or cell code is not in the reference layer given."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class QetGeoWarning(UserWarning):
    """A data problem the user can act on, with a French text for the CLI and the reports."""

    def __init__(self, message: str, *, message_fr: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.message_fr = message_fr or message

    def localized(self, lang: str = "fr") -> str:
        """Return the message in ``lang`` ("fr" or "en")."""
        return self.message_fr if lang == "fr" else self.message
