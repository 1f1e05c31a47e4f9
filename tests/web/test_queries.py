"""A constant number of queries per page, whatever the number of schools, BMPs, requests and events
(issue 6, "Rules"): each page is measured, the data grows, and the same count is asserted."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from jumelages import services as workflow
from tests.factories import BMPFactory, CommuneFactory, EtablissementFactory, head_of
from tests.jumelages.monde import jumelage_direct

pytestmark = pytest.mark.django_db


def grow(w, n: int) -> None:
    """n more schools around A with BMPs, jumelages, requests to and from A, and notifications."""
    for i in range(n):
        commune = CommuneFactory(latitude=48.7 + i / 100, longitude=2.4 + i / 100)
        school = EtablissementFactory(commune=commune)
        free = BMPFactory(campagne=w.campagne, etablissement=school, discipline=w.maths, heures=Decimal("8"))
        paired = BMPFactory(campagne=w.campagne, etablissement=school, discipline=w.eps, heures=Decimal("9"))
        other = BMPFactory(campagne=w.campagne, etablissement=EtablissementFactory(commune=commune), discipline=w.eps)
        jumelage_direct(paired, other)
        mine = BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.maths, heures=Decimal("5"))
        workflow.send_request(w.head_a, mine, free)
        theirs = BMPFactory(campagne=w.campagne, etablissement=school, discipline=w.maths, heures=Decimal("4"))
        workflow.send_request(school_head(school), theirs, mine)
        mine_eps = BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.eps, heures=Decimal("11"))
        jumelage_direct(mine_eps, BMPFactory(campagne=w.campagne, etablissement=school, discipline=w.eps))


def school_head(school):
    return head_of(school)


def pages(w, objects) -> list[str]:
    return [
        reverse("web:accueil"),
        reverse("web:partenaires", args=[w.bmp_a.pk]),
        reverse("web:partenaires", args=[w.bmp_a.pk]) + "?distance_max=50&tri=cible&ecart_max=4",
        reverse("web:carte", args=[w.bmp_a.pk]),
        reverse("web:proposer", args=[w.bmp_a.pk, w.bmp_b.pk]),
        reverse("web:demandes"),
        reverse("web:demande", args=[objects["demande"].pk]),
        reverse("web:jumelage", args=[objects["jumelage"].pk]),
        reverse("web:notifications"),
    ]


def count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


def test_every_page_runs_the_same_number_of_queries_at_two_data_sizes(head_a, w, ouverte, django_assert_num_queries):
    objects = {
        "demande": workflow.send_request(w.head_c, w.bmp_c, w.bmp_a),
        "jumelage": workflow.build_jumelage(
            w.agent94,
            [
                BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.eps),
                BMPFactory(campagne=w.campagne, etablissement=w.B, discipline=w.eps),
            ],
        ),
    }
    grow(w, 2)
    small = {url: count(head_a, url) for url in pages(w, objects)}
    grow(w, 12)
    for url, expected in small.items():
        with django_assert_num_queries(expected):
            assert head_a.get(url).status_code == 200
