"""The journey of two schools in a real browser (Playwright on Debian's chromium, never downloaded),
with axe-core on every main page and a screenshot of each under test-output/screenshots/.

A finds B on the partner page and sends a request; B sees it with its deadline, refuses with
« Autre » without a comment (error shown), then with one; A sees the refusal and its motive;
A sends again, B accepts; both see the jumelage and its total; in the validation phase no
action is left. Some steps use the keyboard alone. Tiles are never fetched (JUMO_TILE_URL "").
"""

import datetime
import shutil
from pathlib import Path

import pytest
from django.utils import timezone

from bmp.models import Campagne
from jumelages.models import Jumelage
from tests.factories import CampagneFactory
from tests.jumelages.monde import build_monde

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "test-output" / "screenshots"
PASSWORD = "motdepasse-de-test"


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (.ci/run does it)")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()
    # The ORM calls made while Playwright's loop ran opened a connection of their own: close it.
    from django.db import connections

    connections.close_all()


def open_campaign() -> Campagne:
    today = timezone.localdate()
    return CampagneFactory(
        annee=today.year,
        date_ouverture=today - datetime.timedelta(days=2),
        date_cloture=today + datetime.timedelta(days=5),
        date_fin_validation=today + datetime.timedelta(days=7),
        date_debut_consultation=today + datetime.timedelta(days=10),
        date_fin_consultation=today + datetime.timedelta(days=60),
    )


def move_to_validation(campagne: Campagne) -> None:
    today = timezone.localdate()
    Campagne.objects.filter(pk=campagne.pk).update(
        date_ouverture=today - datetime.timedelta(days=10),
        date_cloture=today - datetime.timedelta(days=1),
        date_fin_validation=today + datetime.timedelta(days=1),
        date_debut_consultation=today + datetime.timedelta(days=3),
        date_fin_consultation=today + datetime.timedelta(days=60),
    )


def check_accessibility(page, name: str) -> None:
    """No serious or critical axe-core violation; a full-page screenshot for the record."""
    # axe-core from static/vendor, served by the application itself (the CSP allows only 'self').
    origin = "/".join(page.url.split("/")[:3])
    page.add_script_tag(url=f"{origin}/static/vendor/axe-core/axe.min.js")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: " + "; ".join(bad)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element is focused: it is reachable with the keyboard alone."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with the Tab key")


def login(browser, base_url: str, user):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{base_url}/")
    assert "/connexion/" in page.url  # anonymous: sent to the login page
    tab_to(page, "#id_username")
    page.keyboard.type(user.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/")
    return page


def test_two_schools_pair_their_bmps(live_server, browser, settings):
    settings.JUMO_TILE_URL = ""
    campagne = open_campaign()
    w = build_monde(campagne)
    base = live_server.url

    # A finds B on the partner page and sends a request.
    a = login(browser, base, w.head_a)
    assert f"Vous agissez pour {w.A.nom} ({w.A.uai})" in a.inner_text("header")
    assert "phase ouverte" in a.inner_text(".jumo-bandeau")
    check_accessibility(a, "01-mes-bmp")
    a.click(f"#bmp-{w.bmp_a.pk} >> text=Trouver un partenaire")
    row = a.locator(f"tr.jumo-candidat[data-uai='{w.B.uai}']")
    assert "19 h" in row.inner_text()
    check_accessibility(a, "02-trouver-un-partenaire")
    a.goto(f"{base}/bmp/{w.bmp_a.pk}/carte/")
    a.wait_for_selector("#carte.leaflet-container")  # the map starts without tiles
    assert a.locator(f"tr.jumo-candidat[data-uai='{w.B.uai}']").count() == 1
    check_accessibility(a, "03-outil-de-localisation")
    a.go_back()
    a.locator(f"tr.jumo-candidat[data-uai='{w.B.uai}'] >> text=Proposer").click()
    assert "Jumelage à trois BMP" in a.inner_text("main")
    check_accessibility(a, "04-proposer")
    a.click("text=Envoyer la demande")
    assert "Votre demande a été envoyée à Collège B" in a.inner_text("main")

    # B sees it with its deadline, refuses with « Autre » without a comment, then with one (keyboard only).
    b = login(browser, base, w.head_b)
    assert "1 non lue" in b.inner_text("header").lower()
    b.click("nav >> text=Demandes")
    received = b.inner_text("#titre-recues + div")
    assert "Collège A" in received and ("reste 2 j 23 h" in received or "reste 3 j 0 h" in received)
    check_accessibility(b, "05-demandes-recues")
    b.locator("#titre-recues + div a").first.click()
    tab_to(b, "#id_motif")
    b.keyboard.type("Autre")
    tab_to(b, "form[action$='/refuser/'] button[type=submit]")
    b.keyboard.press("Enter")
    b.wait_for_selector("#id_commentaire-desc-error")
    assert b.get_attribute("#id_commentaire", "aria-describedby") == "id_commentaire-desc-error"
    assert "Avec le motif « Autre », un commentaire est obligatoire." in b.inner_text("#id_commentaire-desc-error")
    check_accessibility(b, "06-refus-sans-commentaire")
    tab_to(b, "#id_commentaire")
    b.keyboard.type("Le service partagé serait trop lourd.")
    tab_to(b, "form[action$='/refuser/'] button[type=submit]")
    b.keyboard.press("Enter")
    b.wait_for_selector("text=Demande refusée. L'établissement demandeur en est informé.")

    # A sees the refusal and its motive.
    a.goto(f"{base}/demandes/")
    sent = a.inner_text("#titre-envoyees + div")
    assert "refusée" in sent.lower() and "Motif : Autre — « Le service partagé serait trop lourd. »" in sent
    check_accessibility(a, "07-demandes-envoyees")

    # A sends again; B accepts (keyboard only).
    a.goto(f"{base}/bmp/{w.bmp_a.pk}/proposer/{w.bmp_b.pk}/")
    a.click("text=Envoyer la demande")
    b.goto(f"{base}/demandes/")
    b.locator("#titre-recues + div tr[data-etat='en_attente'] a").first.click()
    check_accessibility(b, "08-demande-a-accepter")
    tab_to(b, "form[action$='/accepter/'] button")
    b.keyboard.press("Enter")
    b.wait_for_selector("text=est constitué")
    jumelage = Jumelage.objects.get(actif=True)
    assert "total 19 h pour un temps plein de 18 h" in b.inner_text("main")
    check_accessibility(b, "09-jumelage")
    for page in (a, b):
        page.goto(f"{base}/")
        assert f"Jumelage n° {jumelage.pk} : total 19 h" in page.inner_text("main")
    b.goto(f"{base}/notifications/")
    check_accessibility(b, "10-notifications")

    # The validation phase: read only, no action left on the pages.
    move_to_validation(campagne)
    for path in ("/", f"/jumelages/{jumelage.pk}/", "/demandes/"):
        a.goto(f"{base}{path}")
        bandeau = a.inner_text(".jumo-bandeau").lower()
        assert "phase validation" in bandeau and "lecture seule" in bandeau
        main = a.inner_text("main")
        for action in ("Trouver un partenaire", "Supprimer le jumelage", "Accepter", "Envoyer la demande"):
            assert action not in main, (path, action)
    a.goto(f"{base}/")
    check_accessibility(a, "11-lecture-seule")
    a.goto(f"{base}/accessibilite/")
    check_accessibility(a, "12-declaration-accessibilite")
