"""Steps 2 and 3 of the journey: the quotas, the visit route, the uploads and the progress."""

from __future__ import annotations

import html
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from qet_geo.store import models as store
from qet_geo.store.ingest import respondents_frame
from qet_geo.store.jobs import territory_from_geojson
from qet_geo.surveys.representativeness import quotas, survey_quotas
from qet_geo.surveys.schema import CSP_LABELS
from tests.api.factories import su_csv
from tests.web.test_accounts import Site, add_pilot, cli_admin, csrf_of, make_site, signed_in_client

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
CENSUS = SHARED / "census" / "paris_iris" / "RP_2011_CS8_Paris_by_IRIS.csv"
PARIS_IRIS = ["751010101", "751010102", "751010103"]
AGES = ["15-29", "30-44", "45-59", "60-74", "75+"]


def demographic_su(n: int, *, prefix: str = "SYN-", seed: int = 1, bad_rows: bool = False) -> bytes:
    """An SU file (tests.api.factories.su_csv) with age band, sex, CSP and IRIS columns.

    With ``bad_rows``: one row without id (rejected) and one with an unknown answer.
    """
    lines = su_csv(n, seed=seed, prefix=prefix).decode().strip().split("\n")
    out = [lines[0] + "\tage_band\tgender\tcsp\tiris"]
    for i, line in enumerate(lines[1:]):
        extra = f"\t{AGES[i % 5]}\t{'FM'[i % 2]}\tCS{(i * 3) % 8 + 1}\t{PARIS_IRIS[i % 2]}"
        out.append(line + extra)
    if bad_rows:
        cells = lines[1].split("\t")
        out.append("\t".join(["", *cells[1:]]) + "\t15-29\tF\tCS3\t751010101")
        cells[1] = "99"
        out.append("\t".join([f"{prefix}99999", *cells[1:]]) + "\t15-29\tF\tCS3\t751010101")
    return ("\n".join(out) + "\n").encode()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    osm = tmp_path / "osm"
    osm.mkdir()
    # a copy: the service reads extracts inside its OSM folder only (no link elsewhere)
    shutil.copyfile(SHARED / "osm" / "lorient_centre.osm.pbf", osm / "lorient_centre.osm.pbf")
    s = make_site(tmp_path)
    cli_admin(s.url, "admin@b.example")
    territory = json.loads(
        (
            Path(__file__).resolve().parents[2] / "data" / "osm" / "lorient_centre.geojson"
        ).read_text()
    )
    geometry = territory_from_geojson(territory)  # Lambert-93, as the store keeps it
    with store.session_scope(s.engine) as session:
        paris = store.add_neighbourhood(session, name="Paris <Halles>", iris_codes=PARIS_IRIS)
        lorient = store.add_neighbourhood(
            session,
            name="Lorient centre",
            iris_codes=["561210101"],
            territory_wkt=geometry.wkt,
            osm_extract="lorient_centre.osm.pbf",
        )
        bare = store.add_neighbourhood(session, name="Sans IRIS")
        s.hoods = {"paris": paris.id, "lorient": lorient.id, "bare": bare.id}  # type: ignore[attr-defined]
    add_pilot(s, "pilote@b.example", s.hoods["paris"])  # type: ignore[attr-defined]
    with store.session_scope(s.engine) as session:
        from qet_geo.store import accounts

        user = accounts.user_by_email(session, "pilote@b.example")
        assert user is not None
    add_pilot(s, "autre@b.example", s.hoods["bare"])  # type: ignore[attr-defined]
    add_pilot(s, "lorient@b.example", s.hoods["lorient"])  # type: ignore[attr-defined]
    from qet_geo.store import accounts

    with store.session_scope(s.engine) as session:
        accounts.create_user(
            session, email="staff@b.example", password="un mot de passe long", role="staff"
        )
    yield s
    s.engine.dispose()


def _hoods(site: Site) -> dict[str, int]:
    return site.hoods  # type: ignore[attr-defined]


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _rows(page: str, caption: str) -> list[list[str]]:
    """The body rows of the table whose caption is ``caption``, as cell texts."""
    match = re.search(
        r"<caption>" + re.escape(str(escape(caption))) + r"</caption>.*?<tbody>(.*?)</tbody>",
        page,
        re.S,
    )
    assert match, f"no table {caption!r}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", match.group(1), re.S)
    return [
        [html.unescape(c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in rows
    ]


def _campaign(client: TestClient, hood_id: int) -> str:
    page = client.get(f"/espace/quartiers/{hood_id}/enquete/collecte")
    opened = client.post(
        f"/espace/quartiers/{hood_id}/enquete/collecte/campagne",
        data={"csrf": csrf_of(page.text), "annee": "0"},
    )
    assert opened.status_code == 303, opened.text
    return csrf_of(page.text)


def _upload(
    client: TestClient, hood_id: int, data: bytes, csrf: str, name: str = "su.tsv"
) -> httpx.Response:
    return client.post(
        f"/espace/quartiers/{hood_id}/enquete/collecte",
        data={"csrf": csrf, "annee": "0"},
        files={"fichier": (name, data, "text/tab-separated-values")},
    )


# --------------------------------------------------------------------------------------------------
# preparing


def test_quotas_are_the_librarys_for_the_same_iris(site: Site) -> None:
    hood = _hoods(site)["paris"]
    pilot = signed_in_client(site, "pilote@b.example")
    page = pilot.get(f"/espace/quartiers/{hood}/enquete/preparer")
    assert page.status_code == 200, page.text
    expected = survey_quotas(CENSUS, codes=PARIS_IRIS)
    n = expected.attrs["n"]
    text = _text(page.text)
    assert f"Taille de l'échantillon : {n} réponses." in text
    assert "plus ou moins 5 points près, 19 fois sur 20" in text
    rows = _rows(page.text, "Catégorie socio-professionnelle")
    assert [r[0] for r in rows] == [m.render("fr") for m in CSP_LABELS.values()]
    assert [int(r[3]) for r in rows] == expected["quota"].tolist()
    assert [int(r[1]) for r in rows] == expected["population"].round().astype(int).tolist()
    # the census table has no age or sex columns: said in words
    assert "Tranche d'âge : la table du recensement de ces IRIS n'a pas ces colonnes" in text
    # per IRIS: the sample split by population, then each IRIS's own quotas
    per_iris = _rows(
        page.text, "Répartition de l'échantillon entre les IRIS (selon leur population)"
    )
    populations = pd.Series(
        {c: survey_quotas(CENSUS, codes=[c], n=1).attrs["population"] for c in PARIS_IRIS}
    )
    split = quotas(populations, n)
    assert [(r[0], int(r[2])) for r in per_iris] == [(c, int(split[c])) for c in PARIS_IRIS]
    for code in PARIS_IRIS:
        own = survey_quotas(CENSUS, codes=[code], n=int(split[code]))
        cells = _rows(page.text, f"IRIS {code} : {int(split[code])} réponses")
        assert [int(r[2]) for r in cells] == own["quota"].tolist()
    # another margin: the library's size for it
    wider = pilot.get(f"/espace/quartiers/{hood}/enquete/preparer?marge=10")
    n10 = survey_quotas(CENSUS, codes=PARIS_IRIS, margin=0.10).attrs["n"]
    assert f"Taille de l'échantillon : {n10} réponses." in _text(wider.text)
    # the sheet prints: the button is for scripts only, the page has a print stylesheet
    assert "data-print hidden" in page.text and "/static/web/survey.js" in page.text
    css = pilot.get("/static/web/web.css").text
    assert "@page { size: A4" in css
    assert "window.print" in pilot.get("/static/web/survey.js").text


def test_quotas_say_what_to_set_when_they_cannot_be_computed(site: Site) -> None:
    hoods = _hoods(site)
    admin = signed_in_client(site, "admin@b.example")
    bare = _text(admin.get(f"/espace/quartiers/{hoods['bare']}/enquete/preparer").text)
    assert "Le quartier n'a pas de codes IRIS : renseignez-les" in bare
    lorient = _text(admin.get(f"/espace/quartiers/{hoods['lorient']}/enquete/preparer").text)
    assert (
        "Aucune table du recensement des données partagées ne couvre les IRIS du quartier (561210101)"
        in lorient
    )
    folder = site.app.state.shared_data  # type: ignore[attr-defined]
    site.app.state.shared_data = None  # type: ignore[attr-defined]
    try:
        gone = admin.get(f"/espace/quartiers/{hoods['paris']}/enquete/preparer")
    finally:
        site.app.state.shared_data = folder  # type: ignore[attr-defined]
    assert gone.status_code == 200
    assert "QET_SHARED_DATA" in gone.text and "/work" not in _text(gone.text)
    assert str(SHARED) not in gone.text


def test_the_visit_route_is_planned_outside_the_request_and_downloaded(site: Site) -> None:
    hood = _hoods(site)["lorient"]
    pilot = signed_in_client(site, "lorient@b.example")
    query = "arrets=4&boucle=1&minutes="
    first = pilot.get(f"/espace/quartiers/{hood}/enquete/preparer?{query}")
    assert first.status_code == 200
    deadline = time.monotonic() + 180
    while True:
        part = pilot.get(
            f"/espace/quartiers/{hood}/enquete/preparer?{query}&fragment=visite",
            headers={"HX-Request": "true"},
        )
        assert part.status_code == 200 and "<html" not in part.text
        if "Itinéraire prêt" in part.text or 'role="alert"' in part.text:
            break
        assert 'hx-trigger="every 2s"' in part.text and "Actualiser la page" in part.text
        assert time.monotonic() < deadline, "the visit took too long"
        time.sleep(0.5)
    assert "Itinéraire prêt : 4 arrêts" in _text(part.text), part.text
    gpx = pilot.get(f"/espace/quartiers/{hood}/enquete/visite.gpx?{query}")
    assert gpx.status_code == 200
    assert gpx.headers["content-disposition"] == 'attachment; filename="visite.gpx"'
    assert gpx.text.lstrip().startswith("<?xml") and gpx.text.count("<wpt") == 4
    geojson = pilot.get(f"/espace/quartiers/{hood}/enquete/visite.geojson?{query}")
    assert geojson.json()["type"] == "FeatureCollection"
    roadbook = pilot.get(f"/espace/quartiers/{hood}/enquete/visite.html?{query}")
    assert roadbook.headers["content-disposition"].startswith("attachment")
    assert "<html" in roadbook.text
    # a visit not planned yet: back to the page
    other = pilot.get(f"/espace/quartiers/{hood}/enquete/visite.gpx?arrets=5&boucle=0")
    assert other.status_code == 303
    bad = pilot.get(f"/espace/quartiers/{hood}/enquete/preparer?arrets=40")
    assert "Le nombre d'arrêts est un nombre entier de 2 à 12." in _text(bad.text)


def test_a_visit_without_an_extract_says_to_upload_it(site: Site) -> None:
    admin = signed_in_client(site, "admin@b.example")
    page = admin.get(f"/espace/quartiers/{_hoods(site)['paris']}/enquete/preparer?arrets=4")
    assert "n'a pas encore d'extrait OpenStreetMap : déposez-le (étape 1)" in _text(page.text)


# --------------------------------------------------------------------------------------------------
# collecting


def test_a_synthetic_file_is_stored_and_reported_as_the_store_has_it(site: Site) -> None:
    hood = _hoods(site)["paris"]
    pilot = signed_in_client(site, "pilote@b.example")
    empty = pilot.get(f"/espace/quartiers/{hood}/enquete/collecte")
    assert "Aucune campagne d'enquête n'est ouverte" in _text(empty.text)
    csrf = _campaign(pilot, hood)
    sent = _upload(pilot, hood, demographic_su(24, bad_rows=True), csrf)
    assert sent.status_code == 200, sent.text
    text = _text(sent.text)
    with store.session_scope(site.engine) as s:
        (upload,) = s.query(store.Upload).all()
        stored = s.query(store.Respondent).filter_by(upload_id=upload.id).count()
        summary = dict(upload.summary)
    assert summary["rejected"] >= 1 and summary["partial"] + summary["rejected"] >= 2
    assert f"Lignes lues {upload.n_rows}" in text
    assert f"Acceptées {summary['accepted']}" in text
    assert f"Refusées {summary['rejected']}" in text
    assert f"Réponses enregistrées {stored}" in text
    report = _rows(sent.text, "Lignes partielles ou refusées, et pourquoi")
    assert len(report) == summary["partial"] + summary["rejected"]
    statuses = [r[2] for r in report]
    assert statuses.count("refusée") == summary["rejected"]
    assert all(r[3] for r in report)  # a reason, in French
    assert "Réponses SYNTHÉTIQUES" in text
    # the same file again: nothing changes
    again = _upload(pilot, hood, demographic_su(24, bad_rows=True), csrf)
    assert "Ce fichier était déjà déposé" in _text(again.text)
    with store.session_scope(site.engine) as s:
        assert s.query(store.Upload).count() == 1


@pytest.mark.parametrize(
    ("data", "name", "status", "words"),
    [
        (b"a,b,c\n1,2,3\n4,5,6\n", "colonnes.csv", 422, None),
        (bytes(range(256)) * 8, "image.png", 422, None),
        (b"", "vide.csv", 400, "Le fichier est vide"),
        (b"x" * 6000, "gros.csv", 413, "Le fichier dépasse 5000 octets"),
    ],
    ids=["wrong columns", "not a CSV", "empty", "too big"],
)
def test_a_bad_file_gets_its_french_message_and_stores_nothing(
    site: Site, data: bytes, name: str, status: int, words: str | None
) -> None:
    hood = _hoods(site)["paris"]
    site.app.state.settings.max_upload_bytes = 5000  # type: ignore[attr-defined]
    pilot = signed_in_client(site, "pilote@b.example")
    csrf = _campaign(pilot, hood)
    sent = _upload(pilot, hood, data, csrf, name)
    assert sent.status_code == status, sent.text
    assert sent.headers["content-type"].startswith("text/html")
    error = re.search(r'<p class="error" role="alert" id="erreur">(.*?)</p>', sent.text, re.S)
    assert error, sent.text
    message = html.unescape(error.group(1))
    if words:
        assert words in message
    assert "Traceback" not in sent.text and "/tmp" not in message
    with store.session_scope(site.engine) as s:
        assert s.query(store.Upload).count() == 0
        assert s.query(store.Respondent).count() == 0


def test_an_upload_is_replaced_then_deleted(site: Site) -> None:
    hood = _hoods(site)["paris"]
    pilot = signed_in_client(site, "pilote@b.example")
    csrf = _campaign(pilot, hood)
    _upload(pilot, hood, demographic_su(15, seed=1), csrf)
    with store.session_scope(site.engine) as s:
        (first,) = s.query(store.Upload).all()
        first_id = first.id
    replaced = pilot.post(
        f"/espace/quartiers/{hood}/enquete/collecte/envois/{first_id}/remplacer",
        data={"csrf": csrf, "annee": "0"},
        files={"fichier": ("corrige.tsv", demographic_su(18, seed=2), "text/tab-separated-values")},
    )
    assert replaced.status_code == 200, replaced.text
    with store.session_scope(site.engine) as s:
        (second,) = s.query(store.Upload).all()
        assert second.id != first_id and second.n_stored == 18
        assert s.query(store.Respondent).count() == 18
        second_id = second.id
    assert f"Envoi n° {first_id} remplacé par l'envoi n° {second_id}." in _text(replaced.text)
    gone = pilot.post(
        f"/espace/quartiers/{hood}/enquete/collecte/envois/{second_id}/supprimer",
        data={"csrf": csrf},
    )
    assert gone.status_code == 303
    assert "Envoi supprimé" in pilot.get(gone.headers["location"]).text
    with store.session_scope(site.engine) as s:
        assert s.query(store.Upload).count() == 0 and s.query(store.Respondent).count() == 0


def test_progress_counts_are_the_stores_against_the_quotas(site: Site) -> None:
    hood = _hoods(site)["paris"]
    pilot = signed_in_client(site, "pilote@b.example")
    csrf = _campaign(pilot, hood)
    _upload(pilot, hood, demographic_su(40, seed=4), csrf)
    page = pilot.get(f"/espace/quartiers/{hood}/enquete/collecte")
    with store.session_scope(site.engine) as s:
        diag = s.query(store.Diagnostic).filter_by(neighbourhood_id=hood).one()
        frame = respondents_frame(s, diag.id)
    expected = survey_quotas(CENSUS, codes=PARIS_IRIS)
    csp = _rows(page.text, "Catégorie socio-professionnelle")
    counts = frame["csp"].value_counts()
    for row, (code, label) in zip(csp, CSP_LABELS.items(), strict=False):
        assert row[0] == label.render("fr")
        quota = int(expected.loc[expected["category"] == code, "quota"].iloc[0])
        count = int(counts.get(code, 0))
        assert (int(row[1]), int(row[2])) == (quota, count)
        assert row[3] == ("atteint" if count >= quota else str(quota - count))
    iris = {r[0]: r for r in _rows(page.text, "Par IRIS")}
    for iris_code, n in frame["iris_code"].value_counts().items():
        assert int(iris[str(iris_code)][2]) == n
    assert f"Réponses enregistrées : {len(frame)}." in _text(page.text)
    # the network staff: counts of 1 to 10 withheld (docs/privacy.md)
    staff = signed_in_client(site, "staff@b.example", "un mot de passe long")
    seen = staff.get(f"/espace/quartiers/{hood}/enquete/collecte")
    assert seen.status_code == 200
    shown = _rows(seen.text, "Catégorie socio-professionnelle")
    for row in shown:
        assert row[2] == "0" or row[2] == "moins de 11" or int(row[2]) >= 11
    assert "moins de 11" in seen.text
    assert "Déposer le fichier" not in seen.text and "Supprimer" not in seen.text


def test_another_team_gets_404_pages_and_forms_need_their_token(site: Site) -> None:
    hoods = _hoods(site)
    owner = signed_in_client(site, "pilote@b.example")
    csrf_owner = _campaign(owner, hoods["paris"])
    _upload(owner, hoods["paris"], demographic_su(12), csrf_owner)
    with store.session_scope(site.engine) as s:
        upload_id = s.query(store.Upload).one().id
    other = signed_in_client(site, "autre@b.example")
    csrf = csrf_of(other.get("/espace").text)
    base = f"/espace/quartiers/{hoods['paris']}/enquete"
    for path in (f"{base}/preparer", f"{base}/collecte", f"{base}/visite.gpx"):
        seen = other.get(path)
        assert seen.status_code == 404 and "Page introuvable" in seen.text, path
        assert "Paris" not in seen.text
    for path, files in (
        (f"{base}/collecte", {"fichier": ("a.tsv", demographic_su(12, seed=9), "text/plain")}),
        (f"{base}/collecte/campagne", None),
        (f"{base}/collecte/envois/{upload_id}/supprimer", None),
        (
            f"{base}/collecte/envois/{upload_id}/remplacer",
            {"fichier": ("a.tsv", b"x", "text/plain")},
        ),
    ):
        sent = other.post(path, data={"csrf": csrf, "annee": "0"}, files=files)
        assert sent.status_code == 404, path
    # the owner's forms without their token: refused, nothing changes
    refused = owner.post(
        f"{base}/collecte",
        data={"annee": "0"},
        files={"fichier": ("b.tsv", demographic_su(12, seed=8), "text/plain")},
    )
    assert refused.status_code == 403 and "Formulaire refusé" in refused.text
    wrong = owner.post(f"{base}/collecte/envois/{upload_id}/supprimer", data={"csrf": "faux"})
    assert wrong.status_code == 403
    with store.session_scope(site.engine) as s:
        assert s.query(store.Upload).count() == 1
    # network staff read but do not write
    staff = signed_in_client(site, "staff@b.example", "un mot de passe long")
    staff_csrf = csrf_of(staff.get("/espace").text)
    denied = staff.post(f"{base}/collecte/envois/{upload_id}/supprimer", data={"csrf": staff_csrf})
    assert denied.status_code == 403


def test_pages_escape_names_and_link_from_the_neighbourhood(site: Site) -> None:
    hood = _hoods(site)["paris"]
    pilot = signed_in_client(site, "pilote@b.example")
    for path in ("preparer", "collecte"):
        page = pilot.get(f"/espace/quartiers/{hood}/enquete/{path}")
        assert "Paris &lt;Halles&gt;" in page.text and "Paris <Halles>" not in page.text
    steps = pilot.get(f"/espace/quartiers/{hood}").text
    assert f"/espace/quartiers/{hood}/enquete/preparer" in steps
    assert f"/espace/quartiers/{hood}/enquete/collecte" in steps
    signed_out = site.client().get(f"/espace/quartiers/{hood}/enquete/collecte")
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/connexion")


def test_a_failed_visit_says_why_without_the_servers_paths(site: Site) -> None:
    # a territory the extract does not reach (Paris, for the Lorient extract)
    paris = territory_from_geojson(
        {
            "type": "Polygon",
            "coordinates": [
                [[2.34, 48.85], [2.35, 48.85], [2.35, 48.86], [2.34, 48.86], [2.34, 48.85]]
            ],
        }
    )
    with store.session_scope(site.engine) as s:
        hood = store.add_neighbourhood(
            s, name="Ailleurs", territory_wkt=paris.wkt, osm_extract="lorient_centre.osm.pbf"
        ).id
    admin = signed_in_client(site, "admin@b.example")
    deadline = time.monotonic() + 180
    while True:
        part = admin.get(
            f"/espace/quartiers/{hood}/enquete/preparer?arrets=3&boucle=1&fragment=visite",
            headers={"HX-Request": "true"},
        )
        if 'role="alert"' in part.text:
            break
        assert time.monotonic() < deadline
        time.sleep(0.5)
    text = _text(part.text)
    assert "l'extrait du quartier" in text and "territoire" in text
    assert str(site.app.state.settings.osm_dir) not in text and "/tmp" not in text  # type: ignore[attr-defined]


def test_the_report_escapes_the_files_values_and_speaks_english(site: Site) -> None:
    hood = _hoods(site)["paris"]
    pilot = signed_in_client(site, "pilote@b.example")
    csrf = _campaign(pilot, hood)
    lines = demographic_su(14).decode().strip().split("\n")
    cells = lines[1].split("\t")
    cells[0], cells[1] = "SYN-<b>x</b><script>alert(1)</script>", "99"
    data = ("\n".join([*lines, "\t".join(cells)]) + "\n").encode()
    pilot.cookies.set("qet_lang", "en")
    sent = _upload(pilot, hood, data, csrf)
    assert sent.status_code == 200, sent.text
    assert "<script>alert(1)" not in sent.text and "<b>x</b>" not in sent.text
    assert "SYN-&lt;b&gt;x&lt;/b&gt;&lt;script&gt;" in sent.text
    report = _rows(sent.text, "Partial or rejected rows, and why")
    assert [r[2] for r in report] == ["rejected"]
    assert "The file's validation report" in html.unescape(sent.text)
    assert "Progress against the quotas" in sent.text


def test_a_body_far_over_the_limit_gets_a_page_not_json(site: Site) -> None:
    """Past the route's limit plus the form's margin, the size guard answers before the page
    runs: a French page with a way back, as any page of the workspace (not the API's JSON)."""
    hood = _hoods(site)["paris"]
    site.app.state.settings.max_upload_bytes = 5000  # type: ignore[attr-defined]
    pilot = signed_in_client(site, "pilote@b.example")
    csrf = _campaign(pilot, hood)
    sent = _upload(pilot, hood, b"x" * 200_000, csrf, "enorme.csv")
    assert sent.status_code == 413
    assert sent.headers["content-type"].startswith("text/html")
    assert "Revenir à l'espace de travail" in html.unescape(sent.text)
    assert '<html lang="fr">' in sent.text and "{" not in sent.text
    with store.session_scope(site.engine) as s:
        assert s.query(store.Upload).count() == 0
