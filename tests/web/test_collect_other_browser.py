"""Step 3 with the other surveys in a real browser (Debian's chromium): a pilot team uploads its
SU file, then a labelled-synthetic MdV/EdV file of the Lorient extract's homes, choosing the survey
on the form, and sees the validation report, the uploads' surveys and the MdV count; axe-core finds
no serious or critical violation on these pages."""

from __future__ import annotations

import shutil
import warnings

import geopandas as gpd
from playwright.sync_api import Page, expect

from qet_geo.constraints.indicators import nearest_min
from qet_geo.inputs.osm import read_osm
from qet_geo.store import models as store
from qet_geo.store.ingest import survey_frame
from qet_geo.surveys.synthetic_others import synthetic_mdv
from tests.web.browser_kit import LiveApp, Watch, axe
from tests.web.test_accounts import PASSWORD, cli_admin
from tests.web.test_survey import SHARED, demographic_su

TIMEOUT_MS = 120_000
EXTRACT = "lorient_collecte.osm.pbf"


def _mdv_csv(n: int) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract is cut at its border
        buildings = read_osm(SHARED / "osm" / "lorient_centre.osm.pbf").buildings
    homes = gpd.GeoDataFrame(
        {nearest_min("food_shop"): [5.0] * len(buildings)},
        geometry=buildings.geometry.representative_point(),
        crs=buildings.crs,
        index=buildings.index,
    )
    frame = synthetic_mdv(homes, n=n, n_planted=0, seed=11).drop(columns=["plant"])
    frame.loc[0, "food_mode"] = "en soucoupe volante"  # an unknown answer: one row refused
    return frame.to_csv(index=False).encode()


def test_a_team_uploads_an_mdv_file_and_sees_it_counted(
    page: Page, watch: Watch, live_app: LiveApp
) -> None:
    engine = live_app.app.state.engine
    assert cli_admin(str(engine.url), "admin@reseau.example").exit_code == 0  # type: ignore[attr-defined]
    osm_dir = live_app.app.state.settings.osm_dir
    # a copy: the service reads extracts inside its OSM folder only
    shutil.copyfile(SHARED / "osm" / "lorient_centre.osm.pbf", f"{osm_dir}/{EXTRACT}")
    with store.session_scope(engine) as s:
        hood = store.add_neighbourhood(s, name="Lorient centre", osm_extract=EXTRACT).id
    violations: list[tuple[str, list[dict[str, object]]]] = []

    def check() -> None:
        found = axe(page)
        if found:
            violations.append((page.url, found))

    page.goto("/connexion")
    page.get_by_label("Adresse électronique").fill("admin@reseau.example")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/espace")
    page.goto(f"/espace/quartiers/{hood}/enquete/collecte")
    page.get_by_role("button", name="Ouvrir la campagne d'enquête").click()
    expect(page.get_by_role("status")).to_contain_text("Campagne d'enquête ouverte")
    expect(page.get_by_role("radio", name="Profils d'Usages (SU)")).to_be_checked()
    check()

    page.get_by_label("Export des Profils d'Usages (SU)").set_input_files(
        files={
            "name": "su.tsv",
            "mimeType": "text/tab-separated-values",
            "buffer": demographic_su(20, seed=6),
        }
    )
    page.get_by_role("button", name="Déposer le fichier").click()
    expect(page.get_by_text("Enquête du fichier : Profils d'Usages (SU).")).to_be_visible(
        timeout=TIMEOUT_MS
    )

    page.get_by_role("radio", name="Modes et espaces de vie (MdV/EdV)").check()
    page.get_by_label("Export des Profils d'Usages (SU)").set_input_files(
        files={"name": "mdv.csv", "mimeType": "text/csv", "buffer": _mdv_csv(30)}
    )
    page.get_by_role("button", name="Déposer le fichier").click()
    expect(
        page.get_by_text("Enquête du fichier : Modes et espaces de vie (MdV/EdV).")
    ).to_be_visible(timeout=TIMEOUT_MS)
    report = page.locator(
        "table", has=page.locator("caption", has_text="Lignes partielles ou refusées")
    )
    expect(report.locator("tbody tr").first).to_contain_text("refusée")
    expect(report.locator("tbody tr").first).to_contain_text("SYN-00001")
    uploads = page.locator("table", has=page.locator("caption", has_text="Envois de la campagne"))
    expect(uploads.locator("tbody tr")).to_have_count(2)
    expect(uploads.locator("tbody tr").nth(1)).to_contain_text("Modes et espaces de vie")
    expect(page.get_by_text("Réponses MdV/EdV enregistrées : 29.")).to_be_visible()
    check()

    with store.session_scope(engine) as s:
        kinds = [u.kind for u in s.query(store.Upload).order_by(store.Upload.id)]
        diag = s.query(store.Diagnostic).filter_by(neighbourhood_id=hood).one()
        frame = survey_frame(s, diag.id, "mdv")
    assert kinds == ["su", "mdv"]
    assert len(frame) == 29 and frame["building_key"].notna().all()  # on the extract's homes
    watch.assert_no_outside_request()
    watch.assert_no_error()
    assert violations == []
