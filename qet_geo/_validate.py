"""Guards shared by the readers: one wording for a path that is not what it should be."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from qet_geo.errors import InputFileError, ValidationError


def existing_file(
    path: str | PathLike[str],
    *,
    what: str,
    what_fr: str,
    hint: str = "Check the path.",
    hint_fr: str = "Vérifiez le chemin.",
    file_only: bool = False,
) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if it exists; refuse it clearly otherwise.

    Parameters
    ----------
    path
        The path given by the user.
    what, what_fr
        What the file is, in English and French ("OSM file", "Fichier OSM"), first in the
        message.
    hint, hint_fr
        What to do, after the path.
    file_only
        Also refuse a folder (the reader needs a file).

    Raises
    ------
    ValidationError
        ``path`` is not a string nor a path.
    InputFileError
        Nothing is there (or a folder, with ``file_only``): "{what} not found: {path}. {hint}".
    """
    if not isinstance(path, str | PathLike):
        raise ValidationError(
            f"The path of the {what[:1].lower() + what[1:]} must be a string or a Path, not "
            f"{type(path).__name__}.",
            message_fr=f"Le chemin ({what_fr[:1].lower() + what_fr[1:]}) doit être une chaîne "
            f"ou un Path, pas {type(path).__name__}.",
        )
    file = Path(path)
    if not (file.is_file() if file_only else file.exists()):
        raise InputFileError(
            f"{what} not found: {file}. {hint}",
            message_fr=f"{what_fr} introuvable : {file}. {hint_fr}",
            path=file,
        )
    return file
