"""The ``qet kit`` command: write the method kit (:mod:`qet_geo.kit`) into a folder.

::

    qet kit kit_qet/                # the questionnaires, the quota sheet, the exhibition's
                                    # panels, the workshop formats, the visit roadbook
    qet kit kit_qet/ --zip          # the same as one archive, qet-kit-<version>.zip
    qet --lang en kit kit_qet/      # the texts in English (the forms hold both languages)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qet_geo.cli._common import _fail, _state, _t, _user_errors, out_console


def kit(
    folder: Annotated[Path, typer.Argument(help="Dossier où écrire le kit (créé s'il manque).")],
    as_zip: Annotated[
        bool, typer.Option("--zip", help="Écrire une seule archive zip au lieu des fichiers.")
    ] = False,
) -> None:
    """Écrire le kit de la méthode (questionnaires, quotas, exposition, ateliers, visite)."""
    from qet_geo.kit import KIT_VERSION, kit_archive, write_kit

    if folder.exists() and not folder.is_dir():
        _fail(_t("{folder} est un fichier : donnez le chemin d'un dossier.", folder=folder))
    with _user_errors():
        try:
            if as_zip:
                folder.mkdir(parents=True, exist_ok=True)
                target = folder / f"qet-kit-{KIT_VERSION}.zip"
                tmp = target.with_name(f".{target.name}.tmp")
                tmp.write_bytes(kit_archive(_state["lang"]))
                tmp.replace(target)
                written = [target]
            else:
                written = write_kit(folder, _state["lang"])
        except OSError as err:
            _fail(
                _t(
                    "impossible d'écrire le kit dans {folder} : {err}. Choisissez un dossier "
                    "où vous pouvez écrire.",
                    folder=folder,
                    err=err.strerror or err,
                )
            )
    for path in written:
        typer.echo(str(path))
    out_console.print(
        _t("Kit {version} écrit : {n} fichier(s).", version=KIT_VERSION, n=len(written)),
        highlight=False,
    )
