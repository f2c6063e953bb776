"""Guards shared by the readers: one wording for a path that is not what it should be."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from qet_geo.errors import InputFileError, ValidationError
from qet_geo.i18n import Msg, msg

#: The default advice after a missing path.
CHECK_PATH = msg("Vérifiez le chemin.")


def existing_file(
    path: str | PathLike[str],
    *,
    what: Msg,
    hint: Msg = CHECK_PATH,
    file_only: bool = False,
) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if it exists; refuse it clearly otherwise.

    Parameters
    ----------
    path
        The path given by the user.
    what
        What the file is (``msg("Fichier OSM")``), first in the message.
    hint
        What to do, after the path.
    file_only
        Also refuse a folder (the reader needs a file).

    Raises
    ------
    ValidationError
        ``path`` is not a string nor a path.
    InputFileError
        Nothing is there (or a folder, with ``file_only``): "{what} introuvable : {path}. {hint}".
    """
    if not isinstance(path, str | PathLike):
        raise ValidationError(
            msg(
                "Le chemin donné pour « {what} » doit être une chaîne ou un Path, pas {type}.",
                what=what,
                type=type(path).__name__,
            )
        )
    file = Path(path)
    if not (file.is_file() if file_only else file.exists()):
        raise InputFileError(
            msg("{what} introuvable : {file}. {hint}", what=what, file=file, hint=hint),
            path=file,
        )
    return file
