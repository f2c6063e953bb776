"""Public error hierarchy of qet-geo.

Every error raised on bad user input is a :class:`QetGeoError`. Its text names the input and says
how to fix it, written once in French with :func:`qet_geo.i18n.msg` and translated into English by
the catalogue: ``err.localized("fr")`` is shown by the CLI and the API (the default language of
user-facing text), ``str(err)`` is the English one for logs and notebooks.

The CLI turns any ``QetGeoError`` into one line on stderr and exit code 2; the service maps each
class to an HTTP status in one table.
"""

from __future__ import annotations

from os import PathLike
from typing import Any

from qet_geo.i18n import Msg

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


class _Texts:
    """The two renderings of a text, computed on first use and replaceable (path scrubbing)."""

    text: Msg | str
    _rendered: dict[str, str]

    def _init_text(self, text: Msg | str, message_fr: str | None) -> None:
        self.text = text
        self._rendered = {} if message_fr is None else {"fr": message_fr}

    def localized(self, lang: str = "fr") -> str:
        """Return the text in ``lang`` ("fr" or "en")."""
        lang = "en" if lang == "en" else "fr"
        if lang not in self._rendered:
            text = self.text
            self._rendered[lang] = text.render(lang) if isinstance(text, Msg) else text
        return self._rendered[lang]

    @property
    def message(self) -> str:
        """The English text."""
        return self.localized("en")

    @message.setter
    def message(self, value: str) -> None:
        self._rendered["en"] = value

    @property
    def message_fr(self) -> str:
        """The French text."""
        return self.localized("fr")

    @message_fr.setter
    def message_fr(self, value: str) -> None:
        self._rendered["fr"] = value


class QetGeoError(_Texts, Exception):
    """Base class of every error qet-geo raises on bad input or impossible requests.

    Parameters
    ----------
    text
        What is wrong and how to fix it: a :func:`~qet_geo.i18n.msg` (French template, English
        in the catalogue), or a plain string shown as is in both languages.
    message_fr
        Only for a message already rendered elsewhere (sent back by a worker process): its French.
    path
        The file the error is about, when there is one.
    """

    def __init__(
        self,
        text: Msg | str,
        *,
        message_fr: str | None = None,
        path: str | PathLike[str] | None = None,
    ) -> None:
        super().__init__(text)
        self._init_text(text, message_fr)
        self.path = None if path is None else str(path)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.text, self._rendered, self.path))


def _rebuild(
    cls: type[QetGeoError], text: Msg | str, rendered: dict[str, str], path: str | None
) -> QetGeoError:
    err = cls.__new__(cls)
    Exception.__init__(err, text)
    err._init_text(text, None)
    err._rendered.update(rendered)
    err.path = path
    return err


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


class QetGeoWarning(_Texts, UserWarning):
    """A data problem the user can act on; shown in French by the CLI and the reports."""

    def __init__(self, text: Msg | str, *, message_fr: str | None = None) -> None:
        super().__init__(text)
        self._init_text(text, message_fr)

    def __str__(self) -> str:
        return self.message
