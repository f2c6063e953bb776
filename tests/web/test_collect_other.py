"""Step 3 with the other surveys: MdV/EdV and NosGestesClimat files on the collection page.

Labelled-synthetic files made by the library (:mod:`qet_geo.surveys.synthetic_others`) on the real
buildings of the shared Lorient extract, which the Lorient neighbourhood of the site has as its
extract; the SU file is :func:`tests.web.test_survey.demographic_su` (SYN- ids).
"""

from __future__ import annotations

import html
import io
import re
import warnings

import geopandas as gpd
import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from qet_geo.constraints.indicators import nearest_min
from qet_geo.inputs.osm import read_osm
from qet_geo.store import models as store
from qet_geo.store.ingest import survey_frame
from qet_geo.surveys.synthetic_others import synthetic_mdv, synthetic_ngc
from tests.web import test_survey
from tests.web.test_accounts import Site, csrf_of, signed_in_client
from tests.web.test_survey import (
    AGES,
    SHARED,
    _campaign,
    _hoods,
    _rows,
    _text,
    demographic_su,
)

site = test_survey.site  # the fixture: Paris (census quotas), Lorient (its extract), pilots, staff

FOOD = nearest_min("food_shop")


@pytest.fixture(scope="module")
def homes() -> gpd.GeoDataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract is cut at its border
        buildings = read_osm(SHARED / "osm" / "lorient_centre.osm.pbf").buildings
    points = buildings.geometry.representative_point()
    return gpd.GeoDataFrame(
        {FOOD: [5.0] * len(points)}, geometry=points, crs=buildings.crs, index=buildings.index
    )


def mdv_file(
    homes: gpd.GeoDataFrame, n: int, *, seed: int = 1, people: bool = False, prefix: str = "SYN-"
) -> bytes:
    frame = synthetic_mdv(homes, n=n, n_planted=0, seed=seed, prefix=prefix)
    frame = frame.drop(columns=["plant"])
    if people:  # age, sex and CSP, as an EdV export may carry them
        frame["age_band"] = [AGES[i % 5] for i in range(n)]
        frame["gender"] = ["FM"[i % 2] for i in range(n)]
        frame["csp"] = [f"CS{(i * 3) % 8 + 1}" for i in range(n)]
    return frame.to_csv(index=False).encode()


def _send(
    client: TestClient,
    hood: int,
    data: bytes,
    csrf: str,
    kind: str | None,
    name: str = "reponses.csv",
    path: str = "",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    form = {"csrf": csrf, "annee": "0"}
    if kind is not None:
        form["enquete"] = kind
    return client.post(
        f"/espace/quartiers/{hood}/enquete/collecte{path}",
        data=form,
        files={"fichier": (name, data, "text/csv")},
        headers=headers,
    )


def _error(page: str) -> str:
    match = re.search(r'<p class="error" role="alert" id="erreur">(.*?)</p>', page, re.S)
    assert match, page[:2000]
    return html.unescape(match.group(1))


def _uploads(site: Site) -> list[tuple[int, str, int]]:
    with store.session_scope(site.engine) as s:
        return [(u.id, u.kind, u.n_stored) for u in s.query(store.Upload).order_by(store.Upload.id)]


def _frame(site: Site, hood: int, kind: str) -> pd.DataFrame:
    with store.session_scope(site.engine) as s:
        diag = s.query(store.Diagnostic).filter_by(neighbourhood_id=hood).one()
        return survey_frame(s, diag.id, kind)


def test_the_form_offers_the_three_surveys_with_what_each_is(site: Site) -> None:
    hood = _hoods(site)["lorient"]
    pilot = signed_in_client(site, "lorient@b.example")
    _campaign(pilot, hood)
    page = pilot.get(f"/espace/quartiers/{hood}/enquete/collecte")
    text = _text(page.text)
    assert "Enquête du fichier" in text
    for key, words in (
        ("su", "Profils d'Usages (SU)"),
        ("mdv", "Modes et espaces de vie (MdV/EdV)"),
        ("ngc", "NosGestesClimat (NGC)"),
    ):
        assert f'id="enquete-{key}" name="enquete" value="{key}"' in page.text
        assert f'<label for="enquete-{key}">{html.escape(words, quote=False)}</label>' in (
            page.text.replace("&#39;", "'")
        )
        assert f'aria-describedby="enquete-{key}-aide"' in page.text
    assert 'value="su" aria-describedby="enquete-su-aide" checked' in page.text
    assert "comparé aux minutes mesurées" in text and "empreinte carbone de l'ADEME" in text
    english = pilot.get(
        f"/espace/quartiers/{hood}/enquete/collecte", headers={"Accept-Language": "en"}
    )
    assert "Survey of the file" in _text(english.text)


def test_mdv_and_ngc_files_are_stored_reported_and_counted(site: Site, homes) -> None:
    hood = _hoods(site)["lorient"]
    pilot = signed_in_client(site, "lorient@b.example")
    csrf = _campaign(pilot, hood)
    su = demographic_su(30, seed=3)
    assert _send(pilot, hood, su, csrf, "su", "su.tsv").status_code == 200
    sent = _send(pilot, hood, mdv_file(homes, 40), csrf, "mdv")
    assert sent.status_code == 200, _error(sent.text)
    text = _text(sent.text)
    assert "Enquête du fichier : Modes et espaces de vie (MdV/EdV)." in text
    assert (
        "Réponses enregistrées 40" in text and "Toutes les lignes du fichier sont acceptées" in text
    )
    ngc = synthetic_ngc(su, share=0.5, seed=1).to_csv(index=False).encode()
    sent = _send(pilot, hood, ngc, csrf, "ngc", "ngc.csv")
    assert sent.status_code == 200, _error(sent.text)
    assert [(k, n) for _, k, n in _uploads(site)] == [("su", 30), ("mdv", 40), ("ngc", 15)]
    # stored under the extract's buildings, NGC results on the SU pseudonyms
    assert _frame(site, hood, "mdv")["building_key"].notna().all()
    page = pilot.get(f"/espace/quartiers/{hood}/enquete/collecte")
    text = _text(page.text)
    assert "Réponses MdV/EdV enregistrées : 40." in text
    assert "Résultats NosGestesClimat enregistrés : 15, dont 15 rattachés à une réponse SU." in text
    assert "ne donnent ni l'âge, ni le sexe" in text  # these MdV answers are only counted
    kinds = [r[1] for r in _rows(page.text, "Envois de la campagne")]
    assert kinds == [
        "Profils d'Usages (SU)",
        "Modes et espaces de vie (MdV/EdV)",
        "NosGestesClimat (NGC)",
    ]


def test_mdv_answers_with_age_sex_and_csp_count_against_the_quotas(site: Site, homes) -> None:
    hood = _hoods(site)["paris"]  # the census tables give Paris's quotas
    pilot = signed_in_client(site, "pilote@b.example")
    csrf = _campaign(pilot, hood)
    sent = _send(pilot, hood, mdv_file(homes, 25, people=True), csrf, "mdv")
    assert sent.status_code == 200, _error(sent.text)
    page = pilot.get(f"/espace/quartiers/{hood}/enquete/collecte")
    ages = _rows(page.text, "MdV/EdV : Tranche d'âge")
    assert [int(r[2]) for r in ages[:5]] == [5, 5, 5, 5, 5]
    csp = _rows(page.text, "MdV/EdV : Catégorie socio-professionnelle")
    su_csp = _rows(page.text, "Catégorie socio-professionnelle")
    assert [r[1] for r in csp] == [r[1] for r in su_csp]  # the same quotas as the SU answers
    assert all(r[1].isdigit() for r in csp[:8]) and sum(int(r[2]) for r in csp) == 25
    sex = _rows(page.text, "MdV/EdV : Sexe")
    assert sum(int(r[2]) for r in sex) == 25
    # the SU progress is untouched by them
    assert "Réponses enregistrées : 0." in _text(page.text)


def test_the_validation_report_of_an_mdv_file_says_why_in_french_and_escapes(
    site: Site, homes
) -> None:
    hood = _hoods(site)["lorient"]
    pilot = signed_in_client(site, "lorient@b.example")
    csrf = _campaign(pilot, hood)
    frame = pd.read_csv(io.BytesIO(mdv_file(homes, 20)))
    frame.loc[0, "easy_walking"] = "<b>peut-être</b>"  # an unknown answer: rejected
    frame.loc[1, "food_mode"] = ""  # a missing answer: partial
    sent = _send(pilot, hood, frame.to_csv(index=False).encode(), csrf, "mdv")
    assert sent.status_code == 200, _error(sent.text)
    report = _rows(sent.text, "Lignes partielles ou refusées, et pourquoi")
    statuses = {r[1]: (r[2], r[3]) for r in report}
    assert statuses["SYN-00001"][0] == "refusée" and "réponse inconnue" in statuses["SYN-00001"][1]
    assert statuses["SYN-00002"][0] == "partielle" and "pas de réponse" in statuses["SYN-00002"][1]
    assert "<b>peut-être</b>" not in sent.text and "&lt;b&gt;peut-être&lt;/b&gt;" in sent.text
    again = _send(pilot, hood, frame.to_csv(index=False).encode(), csrf, "mdv")
    assert "Ce fichier était déjà déposé" in _text(again.text)
    # the report in the reader's language
    other = pd.read_csv(io.BytesIO(mdv_file(homes, 12, seed=5, prefix="SYN-B")))
    other.loc[0, "easy_walking"] = "peut-être"
    english = _send(
        pilot,
        hood,
        other.to_csv(index=False).encode(),
        csrf,
        "mdv",
        headers={"Accept-Language": "en"},
    )
    assert english.status_code == 200
    (row,) = [
        r for r in _rows(english.text, "Partial or rejected rows, and why") if r[1] == "SYN-B00001"
    ]
    assert "unknown answer" in row[3] and "réponse" not in row[3]


@pytest.mark.parametrize(
    ("kind", "data", "status", "words"),
    [
        ("mdv", "su", 422, "Fichier lu comme une enquête Modes et espaces de vie (MdV/EdV)"),
        ("ngc", "su", 422, "Fichier lu comme une enquête NosGestesClimat (NGC)"),
        ("xyz", "su", 400, "Choisissez l'enquête du fichier"),
        ("mdv", "empty", 400, "Le fichier est vide"),
    ],
    ids=["su as mdv", "su as ngc", "unknown survey", "empty"],
)
def test_a_file_of_another_survey_gets_a_french_message_and_stores_nothing(
    site: Site, kind: str, data: str, status: int, words: str
) -> None:
    hood = _hoods(site)["lorient"]
    pilot = signed_in_client(site, "lorient@b.example")
    csrf = _campaign(pilot, hood)
    content = demographic_su(15, seed=4) if data == "su" else b""
    sent = _send(pilot, hood, content, csrf, kind)
    assert sent.status_code == status, sent.text[:500]
    message = _error(sent.text)
    assert words in message
    assert "Traceback" not in sent.text and "/tmp" not in message and "SYN-" not in message
    assert _uploads(site) == []
    if kind in ("mdv", "ngc"):  # the form comes back with the survey chosen
        assert f'value="{kind}" aria-describedby="enquete-{kind}-aide" checked' in sent.text


def test_replace_and_delete_an_mdv_upload(site: Site, homes) -> None:
    hood = _hoods(site)["lorient"]
    pilot = signed_in_client(site, "lorient@b.example")
    csrf = _campaign(pilot, hood)
    _send(pilot, hood, mdv_file(homes, 20, seed=1), csrf, "mdv")
    ((first, _, _),) = _uploads(site)
    # a file of the replaced upload's survey, whatever the form says
    replaced = _send(
        pilot, hood, mdv_file(homes, 12, seed=2), csrf, "su", path=f"/envois/{first}/remplacer"
    )
    assert replaced.status_code == 200, _error(replaced.text)
    assert f"Envoi n° {first} remplacé" in _text(replaced.text)
    ((second, kind, n),) = _uploads(site)
    assert kind == "mdv" and n == 12 and second != first
    assert len(_frame(site, hood, "mdv")) == 12
    # an SU file cannot replace an MdV upload: read as MdV, refused, nothing changes
    wrong = _send(
        pilot, hood, demographic_su(12, seed=5), csrf, None, path=f"/envois/{second}/remplacer"
    )
    assert wrong.status_code == 422 and "Modes et espaces de vie" in _error(wrong.text)
    assert [u[0] for u in _uploads(site)] == [second]
    gone = pilot.post(
        f"/espace/quartiers/{hood}/enquete/collecte/envois/{second}/supprimer",
        data={"csrf": csrf},
    )
    assert gone.status_code == 303
    assert _uploads(site) == [] and _frame(site, hood, "mdv").empty


def test_other_teams_staff_and_forms_without_their_token(site: Site, homes) -> None:
    hoods = _hoods(site)
    owner = signed_in_client(site, "lorient@b.example")
    csrf_owner = _campaign(owner, hoods["lorient"])
    _send(owner, hoods["lorient"], mdv_file(homes, 8), csrf_owner, "mdv")
    ((upload_id, _, _),) = _uploads(site)
    base = f"/espace/quartiers/{hoods['lorient']}/enquete/collecte"
    other = signed_in_client(site, "autre@b.example")
    csrf = csrf_of(other.get("/espace").text)
    assert other.get(base).status_code == 404
    sent = _send(other, hoods["lorient"], mdv_file(homes, 8, seed=3), csrf, "mdv")
    assert sent.status_code == 404 and "Lorient" not in sent.text
    replace = _send(
        other, hoods["lorient"], mdv_file(homes, 8, seed=3), csrf, "mdv",
        path=f"/envois/{upload_id}/remplacer",
    )  # fmt: skip
    assert replace.status_code == 404
    # the owner's form without its token: refused, nothing stored
    refused = owner.post(
        base,
        data={"annee": "0", "enquete": "mdv"},
        files={"fichier": ("m.csv", mdv_file(homes, 8, seed=4), "text/csv")},
    )
    assert refused.status_code == 403 and "Formulaire refusé" in refused.text
    # network staff read the counts, rounded below 11, and get no form
    staff = signed_in_client(site, "staff@b.example", "un mot de passe long")
    seen = staff.get(base)
    text = _text(seen.text)
    assert seen.status_code == 200 and "Réponses MdV/EdV enregistrées : moins de 11." in text
    assert 'name="enquete"' not in seen.text and "Supprimer" not in seen.text
    staff_csrf = csrf_of(staff.get("/espace").text)
    denied = _send(staff, hoods["lorient"], mdv_file(homes, 8, seed=5), staff_csrf, "mdv")
    assert denied.status_code == 403
    assert len(_uploads(site)) == 1
