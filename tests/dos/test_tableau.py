"""The DOS campaign dashboard (issue 7): its figures against a campaign computed by hand, the perimeter of
each service, the 24-hour window, the 15 km rule, the zones de remplacement, and a constant number of
queries."""

import datetime
import json
import re
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from geopy.distance import geodesic

from dos.tableau import tableau_de_bord
from establishments.enums import TypeEtablissement
from establishments.models import Departement, Etablissement, ZoneRemplacement
from jumelages import services as workflow
from tests.factories import BMPFactory, CampagneFactory, CommuneFactory, EtablissementFactory, agent_of, head_of
from tests.jumelages.monde import OUVERTE, ensure_services, jumelage_direct, paris, pending

pytestmark = pytest.mark.django_db

# The monde's schools all stand on one point; the tests move them along the meridian of ORIGINE, where
# the geodesic distance between two schools is the difference of their kilometres.
ORIGINE = (48.80, 2.45)


def placer(etablissement, km: float, cap: float = 0.0, origine=ORIGINE) -> None:
    """Put the school `km` kilometres from `origine` (geodesic) towards `cap` (0: north, 180: south)."""
    if km < 0:
        km, cap = -km, (cap + 180) % 360
    point = geodesic(kilometers=km).destination(origine, bearing=cap)
    Etablissement.objects.filter(pk=etablissement.pk).update(latitude=point.latitude, longitude=point.longitude)
    etablissement.latitude, etablissement.longitude = point.latitude, point.longitude


def url(**params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("dos:tableau_de_bord") + (f"?{query}" if query else "")


# --- The campaign computed by hand ---------------------------------------------------------------------
#
# Mathématiques (18 h): A 9, B 10, C 6, D 7 (collèges 94), E 5 (collège 93), L 8 (lycée 94).
# EPS (20 h):           A 12, C 6, D 9, E 7, L 10.
# Jumelages: J1 = A 9 + B 10 = 19 h (+1 h), J2 = C 6 + E 5 = 11 h (−7 h), J3 = EPS A 12 + L 10 = 22 h (+2 h).
# Requests (now: 20 June 2024, 12:00): EPS E → EPS D sent 17 June 08:00 (deadline 20 June 08:00: expired,
# the sweep has not run); maths D → L sent 18 June 10:00 (deadline 21 June 10:00: within 24 h); EPS C → EPS D
# sent 19 June 22:00 (deadline 22 June 22:00).
# Places on a meridian (km): D 0, L +10, C −20, E −32, A +60, B +70. Free BMPs: maths D, L; EPS C, D, E.
# D ↔ L 10 km, C ↔ E 12 km; EPS D's nearest free partner, C, is 20 km away.


@pytest.fixture
def campagne_a_la_main(w, at):
    w.eps_a = BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.eps, heures=Decimal("12"))
    w.eps_c = BMPFactory(campagne=w.campagne, etablissement=w.C, discipline=w.eps, heures=Decimal("6"))
    w.eps_d = BMPFactory(campagne=w.campagne, etablissement=w.D, discipline=w.eps, heures=Decimal("9"))
    w.eps_e = BMPFactory(campagne=w.campagne, etablissement=w.E, discipline=w.eps, heures=Decimal("7"))
    w.eps_l = BMPFactory(campagne=w.campagne, etablissement=w.L, discipline=w.eps, heures=Decimal("10"))
    for ecole, km in ((w.D, 0), (w.L, 10), (w.C, -20), (w.E, -32), (w.A, 60), (w.B, 70)):
        placer(ecole, km)
    at(paris(2024, 6, 17, 8, 0))
    w.expiree = workflow.send_request(w.head_e, w.eps_e, w.eps_d)
    at(paris(2024, 6, 18, 10, 0))
    w.proche = workflow.send_request(w.head_d, w.bmp_d, w.bmp_l)
    at(paris(2024, 6, 19, 22, 0))
    w.lointaine = workflow.send_request(w.head_c, w.eps_c, w.eps_d)
    at(OUVERTE)
    w.j1 = workflow.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    w.j2 = workflow.build_jumelage(w.superuser, [w.bmp_c, w.bmp_e])
    w.j3 = workflow.build_jumelage(w.superuser, [w.eps_a, w.eps_l])
    return w


def chiffres(lignes) -> dict:
    """{code: (BMP, BMP jumelés, heures, heures jumelées, part %)}."""
    return {
        ligne.code: (ligne.bmps, ligne.bmps_jumeles, ligne.heures, ligne.heures_jumelees, ligne.part)
        for ligne in lignes
    }


def partenaires(t) -> list[tuple]:
    return [
        (b.pk, b.partenaire_pk, round(b.distance_km, 3), b.etablissement.uai, b.partenaire_etablissement.uai)
        for b in t.bmps_avec_partenaire
    ]


def D(value) -> Decimal:
    return Decimal(str(value))


def test_a_superuser_sees_the_figures_of_the_whole_campaign(campagne_a_la_main):
    w = campagne_a_la_main
    t = tableau_de_bord(w.superuser, w.campagne)
    assert t.perimetre == "toute l'académie"
    assert t.phase == "ouverte"
    assert chiffres(t.disciplines) == {
        "L1300": (6, 4, D(45), D(30), D("66.7")),
        "L1900": (5, 2, D(44), D(22), D("50.0")),
    }
    assert chiffres(t.departements) == {
        "93": (2, 1, D(12), D(5), D("41.7")),
        "94": (9, 5, D(77), D(47), D("61.0")),
    }
    assert (t.total.bmps, t.total.bmps_jumeles, t.total.heures, t.total.heures_jumelees) == (11, 6, 89, 52)
    assert t.total.part == D("58.4") and t.total.part_texte == "58,4 %"
    assert t.demandes_en_attente == 2
    assert [(d.pk, d.demandeur.uai, [e.uai for e in d.destinataires]) for d in t.demandes_24h] == [
        (w.proche.pk, w.D.uai, [w.L.uai])
    ]
    assert t.demandes_24h[0].echeance == paris(2024, 6, 21, 10, 0)
    assert t.jumelages_actifs == 3
    assert [(j.pk, j.ecart) for j in t.jumelages_loin_cible] == [(w.j2.pk, D(-7))]
    assert t.jumelages_loin_cible[0].ecart_texte == "−7 h"
    assert sorted(partenaires(t)) == sorted(
        [
            (w.bmp_d.pk, w.bmp_l.pk, 10.0, w.D.uai, w.L.uai),
            (w.bmp_l.pk, w.bmp_d.pk, 10.0, w.L.uai, w.D.uai),
            (w.eps_c.pk, w.eps_e.pk, 12.0, w.C.uai, w.E.uai),
            (w.eps_e.pk, w.eps_c.pk, 12.0, w.E.uai, w.C.uai),
        ]
    )
    assert [b.discipline for b in t.bmps_avec_partenaire] == ["L1300", "L1300", "L1900", "L1900"]
    assert {ligne.code: ligne.avec_partenaire for ligne in t.disciplines} == {"L1300": 2, "L1900": 2}


def test_each_service_sees_its_perimeter_only(campagne_a_la_main):
    w = campagne_a_la_main
    t94 = tableau_de_bord(w.agent94, w.campagne)
    assert t94.perimetre == "DSDEN 94 (0949999H)"
    assert chiffres(t94.disciplines) == {
        "L1300": (4, 3, D(32), D(25), D("78.1")),
        "L1900": (3, 1, D(27), D(12), D("44.4")),
    }
    assert chiffres(t94.departements) == {"94": (7, 4, D(59), D(37), D("62.7"))}
    assert (t94.demandes_en_attente, [d.pk for d in t94.demandes_24h]) == (2, [w.proche.pk])
    assert t94.jumelages_actifs == 3  # J3 holds EPS A: the business of both services
    assert [j.pk for j in t94.jumelages_loin_cible] == [w.j2.pk]
    # A free partner may stand outside the perimeter: the lycée L, the collège E of the 93.
    assert sorted(partenaires(t94)) == sorted(
        [(w.bmp_d.pk, w.bmp_l.pk, 10.0, w.D.uai, w.L.uai), (w.eps_c.pk, w.eps_e.pk, 12.0, w.C.uai, w.E.uai)]
    )

    t93 = tableau_de_bord(w.agent93, w.campagne)
    assert chiffres(t93.disciplines) == {
        "L1300": (1, 1, D(5), D(5), D("100.0")),
        "L1900": (1, 0, D(7), D(0), D("0.0")),
    }
    assert chiffres(t93.departements) == {"93": (2, 1, D(12), D(5), D("41.7"))}
    # EPS E → EPS D is past its deadline: expired even though the sweep has not run.
    assert (t93.demandes_en_attente, t93.demandes_24h) == (0, [])
    assert (t93.jumelages_actifs, [j.pk for j in t93.jumelages_loin_cible]) == (1, [w.j2.pk])
    assert partenaires(t93) == [(w.eps_e.pk, w.eps_c.pk, 12.0, w.E.uai, w.C.uai)]

    rectorat = tableau_de_bord(w.rectorat, w.campagne)
    assert rectorat.perimetre == "Rectorat (0941295X)"
    assert chiffres(rectorat.disciplines) == {
        "L1300": (1, 0, D(8), D(0), D("0.0")),
        "L1900": (1, 1, D(10), D(10), D("100.0")),
    }
    assert chiffres(rectorat.departements) == {"94": (2, 1, D(18), D(10), D("55.6"))}
    assert (rectorat.demandes_en_attente, [d.pk for d in rectorat.demandes_24h]) == (1, [w.proche.pk])
    # J3 is 2 h above the target: not "more than 2 h" away.
    assert (rectorat.jumelages_actifs, rectorat.jumelages_loin_cible) == (1, [])
    assert partenaires(rectorat) == [(w.bmp_l.pk, w.bmp_d.pk, 10.0, w.L.uai, w.D.uai)]


def test_the_gap_to_the_target_that_raises_an_alert_is_a_setting(campagne_a_la_main, settings):
    w = campagne_a_la_main
    settings.JUMO_ECART_CIBLE_ALERTE_HEURES = 1
    t = tableau_de_bord(w.superuser, w.campagne)
    # J1 is 1 h above (not more than 1 h), J3 2 h above, J2 7 h below: the furthest first.
    assert [(j.pk, j.ecart_texte) for j in t.jumelages_loin_cible] == [(w.j2.pk, "−7 h"), (w.j3.pk, "+2 h")]


# --- The 24-hour window ------------------------------------------------------------------------------------


def test_requests_expiring_within_24_hours_boundaries_included(w):
    now = OUVERTE
    heures = datetime.timedelta(hours=1)
    minute = datetime.timedelta(minutes=1)
    juste_24h = pending(w.bmp_a, w.bmp_b, envoyee_le=now - 48 * heures)  # deadline now + 24 h: in
    apres = pending(w.bmp_c, w.bmp_d, envoyee_le=now - 48 * heures + minute)  # now + 24 h 01: pending, not in
    bientot = pending(w.bmp_e, w.bmp_a, envoyee_le=now - 72 * heures + minute)  # now + 1 min: in
    pending(w.bmp_l, w.bmp_c, envoyee_le=now - 72 * heures)  # deadline now: expired
    t = tableau_de_bord(w.superuser, w.campagne, now=now)
    assert t.demandes_en_attente == 3
    assert [d.pk for d in t.demandes_24h] == [bientot.pk, juste_24h.pk]
    assert apres.pk not in [d.pk for d in t.demandes_24h]


def test_a_request_to_a_jumelage_lists_the_jumelage_schools(w, ouverte):
    jumelage = workflow.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    demande = pending(w.bmp_c, jumelage=jumelage, envoyee_le=OUVERTE - datetime.timedelta(hours=60))
    t = tableau_de_bord(w.agent94, w.campagne)
    assert [(d.pk, d.cible_jumelage_id, [e.uai for e in d.destinataires]) for d in t.demandes_24h] == [
        (demande.pk, jumelage.pk, [w.A.uai, w.B.uai])
    ]


def test_no_request_is_pending_once_the_campaign_closed(w, at):
    at(paris(2024, 6, 26, 10, 0))
    workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
    at(paris(2024, 6, 26, 23, 59))
    t = tableau_de_bord(w.superuser, w.campagne)
    assert (t.demandes_en_attente, len(t.demandes_24h)) == (1, 0)  # deadline 29 June, closing in one minute
    at(paris(2024, 6, 27, 0, 0))
    t = tableau_de_bord(w.superuser, w.campagne)
    assert (t.phase, t.demandes_en_attente, t.demandes_24h) == ("validation", 0, [])


# --- The 15 km rule ----------------------------------------------------------------------------------------

LOIN = (49.50, 3.50)  # some 110 km from the monde's schools


def ecole_a(km: float, cap: float = 0.0, **kwargs):
    ecole = EtablissementFactory(**kwargs)
    placer(ecole, km, cap, origine=LOIN)
    return ecole


def libre(w, ecole, discipline=None, **kwargs):
    return BMPFactory(campagne=w.campagne, etablissement=ecole, discipline=discipline or w.maths, **kwargs)


def ligne_de(t, bmp):
    return next((b for b in t.bmps_avec_partenaire if b.pk == bmp.pk), None)


def test_a_free_partner_10_km_away_counts_20_km_away_does_not(w):
    moi = libre(w, ecole_a(0))
    dix = libre(w, ecole_a(10, 90))  # east
    vingt = libre(w, ecole_a(20, 270))  # west: 20 km from me, 30 from `dix`
    t = tableau_de_bord(w.superuser, w.campagne)
    ligne = ligne_de(t, moi)
    assert (ligne.partenaire_pk, round(ligne.distance_km, 6), ligne.distance_texte) == (dix.pk, 10.0, "10,0 km")
    assert ligne_de(t, dix).partenaire_pk == moi.pk
    assert ligne_de(t, vingt) is None


def test_the_nearest_free_partner_is_given(w):
    moi = libre(w, ecole_a(0))
    libre(w, ecole_a(12, 0))
    dix = libre(w, ecole_a(10, 180))
    assert ligne_de(tableau_de_bord(w.superuser, w.campagne), moi).partenaire_pk == dix.pk


def test_paired_same_school_other_discipline_withdrawn_or_other_campaign_bmps_are_no_free_partners(w, ouverte):
    moi = libre(w, ecole_a(0))
    libre(w, moi.etablissement)  # same school
    s, u = libre(w, ecole_a(1, 0)), libre(w, ecole_a(1.5, 0))
    workflow.build_jumelage(w.agent94, [s, u])  # paired
    libre(w, ecole_a(1, 90), discipline=w.eps)  # another discipline
    libre(w, ecole_a(1, 180), actif=False)  # withdrawn by the nightly refresh
    BMPFactory(campagne=CampagneFactory(annee=2023), etablissement=ecole_a(1, 270), discipline=w.maths)
    quatorze = libre(w, ecole_a(14, 45))
    ligne = ligne_de(tableau_de_bord(w.superuser, w.campagne), moi)
    assert (ligne.partenaire_pk, round(ligne.distance_km, 6)) == (quatorze.pk, 14.0)


def test_the_limit_is_geodesic_and_a_setting(w, settings):
    moi = libre(w, ecole_a(0))
    libre(w, ecole_a(15.1, 0))
    assert ligne_de(tableau_de_bord(w.superuser, w.campagne), moi) is None
    presque = libre(w, ecole_a(14.9, 180))
    assert ligne_de(tableau_de_bord(w.superuser, w.campagne), moi).partenaire_pk == presque.pk
    settings.JUMO_DISTANCE_PARTENAIRE_KM = 10
    assert ligne_de(tableau_de_bord(w.superuser, w.campagne), moi) is None


def test_a_school_without_coordinates_has_no_partner_and_is_counted_apart(w):
    sans = EtablissementFactory()
    Etablissement.objects.filter(pk=sans.pk).update(latitude=None, longitude=None)
    moi = libre(w, sans)
    libre(w, ecole_a(0))
    t = tableau_de_bord(w.superuser, w.campagne)
    assert ligne_de(t, moi) is None
    assert t.bmps_libres_sans_position == 1


# --- Zones de remplacement ---------------------------------------------------------------------------------


def test_without_zones_no_jumelage_counts_as_across_zones(w, ouverte):
    workflow.build_jumelage(w.superuser, [w.bmp_c, w.bmp_e])
    t = tableau_de_bord(w.superuser, w.campagne)
    assert (t.zones_renseignees, t.jumelages_zones_differentes, t.jumelages_zone_inconnue) == (False, [], 1)


def test_known_zones_tell_same_different_and_unknown(w, ouverte):
    f = EtablissementFactory(nom="Collège F", commune=CommuneFactory(departement=Departement.objects.get(code="94")))
    bmp_f = BMPFactory(campagne=w.campagne, etablissement=f, discipline=w.maths, heures=Decimal("8"))
    meme = workflow.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    differentes = workflow.build_jumelage(w.superuser, [w.bmp_c, w.bmp_e])
    workflow.build_jumelage(w.agent94, [w.bmp_d, bmp_f])  # F's commune is in no zone
    ZoneRemplacement.objects.create(code="Z94", libelle="Zone 94").communes.add(w.A.commune)
    ZoneRemplacement.objects.create(code="Z93", libelle="Zone 93").communes.add(w.E.commune)
    t = tableau_de_bord(w.superuser, w.campagne)
    assert t.zones_renseignees
    assert (t.jumelages_meme_zone, t.jumelages_zone_inconnue) == (1, 1)
    assert [j.pk for j in t.jumelages_zones_differentes] == [differentes.pk]
    assert meme.pk not in [j.pk for j in t.jumelages_zones_differentes]
    assert [j.pk for j in tableau_de_bord(w.rectorat, w.campagne).jumelages_zones_differentes] == []


# --- The page ------------------------------------------------------------------------------------------------


class Tableaux(HTMLParser):
    """The text of each cell of the page's tables, by table id: {id: [[cell, …], …]}."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._row = self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("id"), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = self._row = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def corps(response, table_id) -> list[list[str]]:
    """The rows of a table, its header row left out."""
    return Tableaux(response.content.decode()).tables[table_id][1:]


def donnees(response) -> dict:
    match = re.search(r'<script id="tableau-donnees" type="application/json">(.*?)</script>', response.content.decode())
    return json.loads(match.group(1))


def texte(response) -> str:
    """The page's visible text, on one line (inline tags dropped, spaces folded)."""
    html = re.sub(r"<(script|style|dialog)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    html = re.sub(r"</?(span|strong|time|a|em)\b[^>]*>", "", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_the_page_charts_and_tables_show_the_same_figures(client, campagne_a_la_main):
    w = campagne_a_la_main
    client.force_login(w.agent94)
    response = client.get(url())
    assert response.status_code == 200
    graphiques = donnees(response)
    assert graphiques["disciplines"] == {
        "libelles": ["L1300", "L1900"],
        "noms": ["L1300 – MATHEMATIQUES", "L1900 – EPS"],
        "parts": [78.1, 44.4],
        "heures": [32.0, 27.0],
        "heures_jumelees": [25.0, 12.0],
    }
    assert graphiques["departements"]["libelles"] == ["94"]
    assert graphiques["departements"]["parts"] == [62.7]
    lignes = corps(response, "table-disciplines")
    assert [ligne[:7] for ligne in lignes] == [
        ["L1300 – MATHEMATIQUES", "4", "3", "32 h", "25 h", "78,1 %", "1"],
        ["L1900 – EPS", "3", "1", "27 h", "12 h", "44,4 %", "1"],
        ["Total", "7", "4", "59 h", "37 h", "62,7 %", "2"],
    ]
    # The chart's figures are the table's, row by row.
    for i, code in enumerate(graphiques["disciplines"]["libelles"]):
        assert lignes[i][0].startswith(code)
        assert lignes[i][5] == f"{graphiques['disciplines']['parts'][i]:.1f} %".replace(".", ",")
        assert lignes[i][3] == f"{graphiques['disciplines']['heures'][i]:g} h"
        assert lignes[i][4] == f"{graphiques['disciplines']['heures_jumelees'][i]:g} h"
    assert [ligne[:6] for ligne in corps(response, "table-departements")] == [
        ["94 – Val-de-Marne", "7", "4", "59 h", "37 h", "62,7 %"]
    ]
    html = response.content.decode()
    assert '<canvas id="graphique-disciplines" role="img" aria-label="Part des heures de BMP jumelées par ' in html
    assert "L1300 : 78,1 % ; L1900 : 44,4 %" in html
    assert "vendor/chart.js/chart.umd.min.js" in html and "dos/tableau.js" in html
    assert "<caption>Part des heures de BMP jumelées par discipline (DSDEN 94 (0949999H))</caption>" in html
    assert '<th scope="col">Part jumelée</th>' in html


def test_the_page_lists_requests_jumelages_and_free_partners_with_admin_links(client, campagne_a_la_main):
    w = campagne_a_la_main
    client.force_login(w.agent94)
    response = client.get(url())
    page = texte(response)
    assert "Phase de la campagne : ouverte" in page
    assert "Chiffres au 20 juin 2024 à 12 h 00 (heure de Paris)" in page
    assert "2 demandes en attente de réponse, dont 1 arrivant à échéance d'ici le 21 juin 2024 à 12 h 00" in page
    assert corps(response, "table-demandes-24h") == [
        [f"Demande n° {w.proche.pk}", "L1300", str(w.D), str(w.L), "21 juin 2024 à 10 h 00"]
    ]
    assert corps(response, "table-loin-cible") == [
        [f"Jumelage n° {w.j2.pk}", "L1300", f"{w.C}, {w.E}", "11 h", "18 h", "−7 h"]
    ]
    assert "Zones de remplacement non renseignées" in page
    assert "table-zones" not in response.content.decode()
    assert corps(response, "table-partenaires") == [
        [w.bmp_d.identifiant, "L1300", str(w.D), "7 h", w.bmp_l.identifiant, str(w.L), "8 h", "10,0 km"],
        [w.eps_c.identifiant, "L1900", str(w.C), "6 h", w.eps_e.identifiant, str(w.E), "7 h", "12,0 km"],
    ]
    html = response.content.decode()
    c = w.campagne.pk
    for lien in (
        f"/admin/jumelages/demande/{w.proche.pk}/change/",
        f"/admin/jumelages/jumelage/{w.j2.pk}/change/",
        f"/admin/bmp/bmp/{w.bmp_d.pk}/change/",
        f"/admin/jumelages/demande/?campagne__id__exact={c}&amp;etat__exact=en_attente",
        f"/admin/bmp/bmp/?campagne__id__exact={c}&amp;actif__exact=1&amp;discipline__id__exact={w.maths.pk}",
        f"/admin/jumelages/jumelage/?campagne__id__exact={c}&amp;actif__exact=1&amp;discipline__id__exact={w.eps.pk}",
    ):
        assert f'href="{lien}"' in html, lien


def test_the_admin_links_of_the_page_open_filtered_lists(client, campagne_a_la_main):
    w = campagne_a_la_main
    client.force_login(w.superuser)
    html = client.get(url()).content.decode()
    liens = {unescape(lien) for lien in re.findall(r'href="(/admin/[^"]*\?[^"]*)"', html)}
    assert len(liens) >= 6
    for lien in liens:
        response = client.get(lien)
        assert response.status_code == 200, lien  # an unknown filter would redirect to ?e=1


def test_known_zones_show_the_jumelages_across_zones(client, w, ouverte):
    differentes = workflow.build_jumelage(w.superuser, [w.bmp_c, w.bmp_e])
    ZoneRemplacement.objects.create(code="Z94", libelle="Zone 94").communes.add(w.C.commune)
    ZoneRemplacement.objects.create(code="Z93", libelle="Zone 93").communes.add(w.E.commune)
    client.force_login(w.agent93)
    response = client.get(url())
    assert "Zones de remplacement non renseignées" not in texte(response)
    assert "zones différentes 1" in texte(response)
    assert corps(response, "table-zones") == [[f"Jumelage n° {differentes.pk}", "L1300", f"{w.C}, {w.E}", "11 h"]]


@pytest.mark.parametrize(
    "qui, perimetre, total",
    [
        ("agent94", "DSDEN 94 (0949999H)", ["Total", "7", "4", "59 h", "37 h", "62,7 %"]),
        ("agent93", "DSDEN 93 (0939999N)", ["Total", "2", "1", "12 h", "5 h", "41,7 %"]),
        ("rectorat", "Rectorat (0941295X)", ["Total", "2", "1", "18 h", "10 h", "55,6 %"]),
        ("superuser", "toute l'académie", ["Total", "11", "6", "89 h", "52 h", "58,4 %"]),
    ],
)
def test_each_agent_sees_the_figures_of_his_perimeter(client, campagne_a_la_main, qui, perimetre, total):
    client.force_login(getattr(campagne_a_la_main, qui))
    response = client.get(url())
    assert f"Périmètre : {perimetre}." in texte(response)
    assert corps(response, "table-disciplines")[-1][:6] == total


def test_a_head_gets_403_and_an_anonymous_user_the_login_page(client, w, ouverte):
    response = client.get(url())
    assert response.status_code == 302
    assert response.url.startswith(reverse("web:connexion")) or "login" in response.url
    client.force_login(w.head_a)
    response = client.get(url())
    assert response.status_code == 403
    assert "Accès réservé aux services de gestion des moyens" in texte(response)


def test_the_latest_campaign_by_default_another_on_request_an_unknown_one_refused(client, w, ouverte):
    suivante = CampagneFactory(annee=2025)
    client.force_login(w.agent94)
    page = texte(client.get(url()))
    assert "Tableau de bord de la campagne 2025" in page
    assert "Phase de la campagne : préparation" in page
    page = texte(client.get(url(campagne=w.campagne.pk)))
    assert "Tableau de bord de la campagne 2024" in page
    assert "Phase de la campagne : ouverte" in page
    assert "Campagne de la rentrée 2024 — phase ouverte" in page  # the banner follows the choice
    html = client.get(url(campagne=w.campagne.pk)).content.decode()
    assert f'<option value="{w.campagne.pk}" selected>Rentrée 2024</option>' in html
    assert f'<option value="{suivante.pk}">Rentrée 2025</option>' in html
    for inconnue in ("999999", "abc"):
        response = client.get(url(campagne=inconnue))
        assert response.status_code == 404
        assert "La campagne demandée n'existe pas : choisissez une campagne dans la liste." in texte(response)


def test_without_any_campaign_the_page_says_so(client, db):
    ensure_services()
    client.force_login(agent_of("0949999H"))
    response = client.get(url())
    assert response.status_code == 200
    assert "Aucune campagne n'est encore enregistrée." in texte(response)


# --- A constant number of queries ----------------------------------------------------------------------------


def grandir(w, n: int) -> None:
    """n more schools with BMPs, jumelages (some to review), requests (to BMPs and to jumelages, some about
    to expire), zones."""
    zone = ZoneRemplacement.objects.create(code=f"Z{n}", libelle=f"Zone {n}")
    for i in range(n):
        commune = CommuneFactory(latitude=48.7 + i / 200, longitude=2.4 + i / 200)
        zone.communes.add(commune)
        type_ = TypeEtablissement.LGT if i % 3 == 0 else TypeEtablissement.COLLEGE
        ecole = EtablissementFactory(commune=commune, type=type_)
        autre = EtablissementFactory(commune=commune)
        head_of(ecole)
        libre_ = BMPFactory(campagne=w.campagne, etablissement=ecole, discipline=w.maths, heures=Decimal("8"))
        a = BMPFactory(campagne=w.campagne, etablissement=ecole, discipline=w.eps, heures=Decimal("9"))
        b = BMPFactory(campagne=w.campagne, etablissement=autre, discipline=w.eps, heures=Decimal("6"))
        jumelage = jumelage_direct(a, b)
        demandeur = BMPFactory(campagne=w.campagne, etablissement=autre, discipline=w.maths)
        pending(demandeur, libre_, envoyee_le=OUVERTE - datetime.timedelta(hours=60))
        vers_jumelage = BMPFactory(campagne=w.campagne, etablissement=w.D, discipline=w.eps)
        pending(vers_jumelage, jumelage=jumelage, envoyee_le=OUVERTE - datetime.timedelta(hours=50 + i))
        BMPFactory(campagne=w.campagne, etablissement=ecole, discipline=w.maths, actif=False)


@pytest.mark.parametrize("qui", ["agent94", "rectorat", "superuser"])
def test_the_page_runs_the_same_number_of_queries_whatever_the_size(
    client, campagne_a_la_main, qui, django_assert_num_queries
):
    w = campagne_a_la_main
    grandir(w, 2)
    client.force_login(getattr(w, qui))
    with CaptureQueriesContext(connection) as petit:
        assert client.get(url()).status_code == 200
    grandir(w, 25)
    with django_assert_num_queries(len(petit)):
        response = client.get(url())
    assert response.status_code == 200
    assert int(re.search(r'id="bmps-avec-partenaire">(\d+)<', response.content.decode()).group(1)) > 10
