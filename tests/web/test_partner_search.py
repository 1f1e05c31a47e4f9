"""Trouver un partenaire: candidates, geodesic distances, zones, filters, sort and pagination."""

import random
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from common import geo
from establishments.enums import Position
from establishments.models import ZoneRemplacement
from tests.factories import BMPFactory, CommuneFactory, EtablissementFactory
from tests.jumelages.monde import jumelage_direct

pytestmark = pytest.mark.django_db


def rows(client, bmp, query="") -> list[str]:
    html = client.get(reverse("web:partenaires", args=[bmp.pk]) + query).content.decode()
    return re.findall(r"class=\"jumo-candidat\" data-uai=\"([0-9A-Z]+)\"", html)


def test_the_sphere_stays_within_its_bound_of_the_geodesic():
    rng = random.Random(6)
    for _ in range(2000):
        lat1, lat2 = rng.uniform(-80, 80), rng.uniform(-80, 80)
        lon1, lon2 = rng.uniform(-180, 180), rng.uniform(-180, 180)
        if rng.random() < 0.7:  # mostly short distances, as between schools
            lat2, lon2 = lat1 + rng.uniform(-1, 1), lon1 + rng.uniform(-1, 1)
        exact = geo.distance_km(lat1, lon1, lat2, lon2)
        approx = geo.spherical_km(lat1, lon1, lat2, lon2)
        assert abs(approx - exact) <= geo.SPHERE_ERROR * exact + 1e-9


def test_refining_a_window_gives_the_geodesic_order():
    rng = random.Random(7)
    origin = (48.79, 2.45)

    class Item:
        def __init__(self, n, lat, lon):
            self.bmp_id, self.lat, self.lon = n, lat, lon
            self.approx = geo.spherical_km(*origin, lat, lon)

    items = [Item(n, 48.79 + rng.uniform(-0.3, 0.3), 2.45 + rng.uniform(-0.4, 0.4)) for n in range(400)]
    truth = sorted(items, key=lambda i: (geo.distance_km(*origin, i.lat, i.lon), i.bmp_id))
    calls = []

    def exact(item):
        calls.append(item)
        return geo.distance_km(*origin, item.lat, item.lon)

    for start in (0, 20, 180, 380):
        group = sorted(items, key=lambda i: (i.approx, i.bmp_id))
        calls.clear()
        geo.refine_window(group, start, start + 20, exact)
        assert [i.bmp_id for i in group[start : start + 20]] == [i.bmp_id for i in truth[start : start + 20]]
        assert len(calls) < 200  # only the rows near the window get a geodesic


def test_candidates_are_free_bmps_and_jumelages_of_two_of_other_schools(head_a, w, ouverte):
    jumelage_direct(w.bmp_c, w.bmp_d)
    full = [BMPFactory(campagne=w.campagne, discipline=w.maths) for _ in range(3)]
    jumelage_direct(*full)
    BMPFactory(campagne=w.campagne, etablissement=w.B, discipline=w.eps)
    BMPFactory(campagne=w.campagne, discipline=w.maths, actif=False)
    found = rows(head_a, w.bmp_a)
    assert sorted(found) == sorted([w.B.uai, w.C.uai, w.D.uai, w.E.uai, w.L.uai])


def test_a_bmp_in_a_jumelage_of_two_looks_for_a_free_third(head_a, w, ouverte):
    jumelage_direct(w.bmp_a, w.bmp_b)
    jumelage_direct(w.bmp_c, w.bmp_d)
    assert sorted(rows(head_a, w.bmp_a)) == sorted([w.E.uai, w.L.uai])
    page = head_a.get(reverse("web:partenaires", args=[w.bmp_a.pk])).content.decode()
    assert "seuls les BMP libres, qui deviendraient le troisième BMP, sont proposés" in page
    full = BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.eps)
    jumelage_direct(full, *[BMPFactory(campagne=w.campagne, discipline=w.eps) for _ in range(2)])
    page = head_a.get(reverse("web:partenaires", args=[full.pk])).content.decode()
    assert "Ce BMP fait déjà partie d&#x27;un jumelage complet de trois BMP." in page


def far_schools(w):
    """B 5 km, C 12 km, D 30 km east of A (approximate position), E unknown position."""
    places = {"B": 0.068, "C": 0.163, "D": 0.41}
    for name, dlon in places.items():
        school = getattr(w, name)
        school.latitude, school.longitude = w.A.latitude, w.A.longitude + dlon
        school.save()
    w.D.position = Position.APPROXIMATIVE
    w.D.save()
    w.E.latitude = w.E.longitude = None
    w.E.position = Position.INCONNUE
    w.E.save()


def test_rows_are_sorted_by_geodesic_distance_with_their_badges(head_a, w, ouverte):
    far_schools(w)
    found = rows(head_a, w.bmp_a)
    assert found == [w.L.uai, w.B.uai, w.C.uai, w.D.uai, w.E.uai]
    page = head_a.get(reverse("web:partenaires", args=[w.bmp_a.pk])).content.decode()
    expected = geo.distance_km(w.A.latitude, w.A.longitude, w.C.latitude, w.C.longitude)
    assert f"{expected:.1f} km".replace(".", ",") in page
    assert "position approximative" in page and "distance inconnue" in page
    assert "zone non renseignée" in page


def test_maximum_distance_department_commune_and_hours_filters(head_a, w, ouverte):
    far_schools(w)
    assert rows(head_a, w.bmp_a, "?distance_max=13") == [w.L.uai, w.B.uai, w.C.uai]
    assert rows(head_a, w.bmp_a, "?distance_max=2") == [w.L.uai]
    assert rows(head_a, w.bmp_a, "?departement=" + str(w.E.departement_id)) == [w.E.uai]
    assert rows(head_a, w.bmp_a, "?commune=93048") == [w.E.uai]
    # A has 9 h: B 10 h → 19 h, C 6 h → 15 h, D 7 h → 16 h, E 5 h → 14 h, L 8 h → 17 h.
    assert rows(head_a, w.bmp_a, "?ecart_max=1") == [w.L.uai, w.B.uai]
    assert rows(head_a, w.bmp_a, "?ecart_max=1&sans_depasser=on") == [w.L.uai]
    assert rows(head_a, w.bmp_a, "?tri=cible") == [w.L.uai, w.B.uai, w.D.uai, w.C.uai, w.E.uai]


def test_zone_badges_and_the_same_zone_filter(head_a, w, ouverte):
    other = CommuneFactory(code_insee="94046")
    w.C.commune = other
    w.C.save()
    zone = ZoneRemplacement.objects.create(code="Z1", libelle="Créteil")
    zone.communes.add(w.A.commune)
    ZoneRemplacement.objects.create(code="Z2", libelle="Vitry").communes.add(other)
    page = head_a.get(reverse("web:partenaires", args=[w.bmp_a.pk])).content.decode()
    assert page.count(">même zone<") == 3  # B, D, L share A's commune
    assert page.count(">autre zone<") == 1 and page.count(">zone non renseignée<") == 1  # C; E (no zone)
    assert sorted(rows(head_a, w.bmp_a, "?meme_zone=on")) == sorted([w.B.uai, w.D.uai, w.L.uai])


def test_results_are_paginated(head_a, w, ouverte):
    for i in range(45):
        school = EtablissementFactory(commune=CommuneFactory(latitude=48.0 + i / 50, longitude=2.45))
        BMPFactory(campagne=w.campagne, etablissement=school, discipline=w.maths, heures=Decimal("4"))
    first, second, third = (rows(head_a, w.bmp_a, f"?page={n}") for n in (1, 2, 3))
    assert (len(first), len(second), len(third)) == (20, 20, 10)
    assert not set(first) & set(second)
    page = head_a.get(reverse("web:partenaires", args=[w.bmp_a.pk]) + "?tri=cible&page=2").content.decode()
    assert "page=3" in page and "tri=cible" in page


def test_the_map_page_passes_its_data_with_json_script_and_no_inline_script(head_a, w, ouverte, settings):
    settings.JUMO_TILE_URL = "http://127.0.0.1:9/{z}/{x}/{y}.png"
    page = head_a.get(reverse("web:carte", args=[w.bmp_a.pk])).content.decode()
    assert '<script id="carte-donnees" type="application/json">' in page
    assert "127.0.0.1:9" in page

    for script in re.findall(r"<script\b([^>]*)>(.*?)</script>", page, flags=re.S):
        attributes, body = script
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
    assert 'href="/static/vendor/leaflet/leaflet.css"' in page
    assert "/static/web/carte.js" in page
