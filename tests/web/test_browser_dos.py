"""The DOS workspace in a real browser (Playwright on Debian's chromium): an agent logs in and lands on
the dashboard, whose charts are drawn beside their tables; the exports page; building a jumelage in
the admin after its preview. axe-core on the DOS pages; screenshots under test-output/screenshots/."""

from decimal import Decimal

import pytest

from establishments.accounts import gestionnaires_group
from jumelages.models import Jumelage
from tests.jumelages.monde import build_monde
from tests.web.test_browser import PASSWORD, browser, check_accessibility, open_campaign  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_agent_follows_the_campaign_and_builds_a_jumelage(live_server, browser, settings):  # noqa: F811
    settings.JUMO_TILE_URL = ""
    w = build_monde(open_campaign())
    agent = w.agent94
    agent.is_staff = True
    agent.set_password(PASSWORD)
    agent.save()
    agent.groups.add(gestionnaires_group())
    for etablissement, (lat, lon) in {w.A: (48.80, 2.40), w.B: (48.80, 2.45), w.C: (48.90, 2.60)}.items():
        etablissement.latitude, etablissement.longitude = Decimal(str(lat)), Decimal(str(lon))
        etablissement.save()
    base = live_server.url

    page = login_agent(browser, base, agent)
    assert page.url == f"{base}/dos/tableau-de-bord/"
    assert "Tableau de bord de la campagne" in page.inner_text("h1")
    # Both charts are drawn by Chart.js, and the table beside each gives the same figures.
    for canvas in ("graphique-disciplines", "graphique-departements"):
        assert page.evaluate(f"() => Chart.getChart(document.getElementById('{canvas}')) !== undefined")
    assert "L1300" in page.inner_text("#table-disciplines")
    assert "0 %" in page.inner_text("#table-disciplines")
    check_accessibility(page, "dos-01-tableau-de-bord")

    page.click("nav >> text=Exports")
    assert page.locator("a[href*='/dos/exports/jumelages.xlsx']").count() >= 1
    check_accessibility(page, "dos-02-exports")

    # Building A + B in the admin: the preview first, then the jumelage.
    page.goto(f"{base}/admin/jumelages/jumelage/construire/")
    page.select_option("#id_campagne", str(w.campagne.pk))
    page.fill("#id_identifiants", f"{w.bmp_a.identifiant} {w.bmp_b.identifiant}")
    page.click("input[name=verifier]")
    apercu = page.inner_text("#apercu")
    assert "Ces BMP peuvent être jumelés." in apercu and "Total : 19 h" in apercu and "3,7 km" in apercu
    check_accessibility(page, "dos-03-construire")
    page.click("input[name=construire]")
    page.wait_for_selector("text=a été construit")
    assert Jumelage.objects.filter(actif=True).count() == 1
    check_accessibility(page, "dos-04-jumelage")
    page.goto(f"{base}/admin/jumelages/jumelage/")
    assert "19 h / 18 h (+1 h)" in page.inner_text("#result_list")
    check_accessibility(page, "dos-05-liste-des-jumelages")

    # The dashboard counts it: 19 h of the 94's 32 h of mathematics are paired.
    page.goto(f"{base}/dos/tableau-de-bord/")
    total = page.inner_text("#table-disciplines tbody tr:first-child")
    assert "32 h" in total and "19 h" in total and "59,4 %" in total


def login_agent(browser, base, agent):  # noqa: F811
    """The agent logs in on the same page as the heads; his home is the dashboard."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{base}/connexion/")
    page.fill("#id_username", agent.username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/dos/tableau-de-bord/")
    return page
