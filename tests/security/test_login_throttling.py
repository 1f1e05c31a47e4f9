"""django-axes: after five failures for one identifier from one address, that pair waits fifteen
minutes (French page, 429); the address is the client's, read behind the trusted proxies."""

import datetime

import pytest
from django.utils import timezone

from audit.enums import TypeConnexion
from audit.models import Connexion
from tests.factories import EtablissementFactory, head_of

pytestmark = pytest.mark.django_db

PASSWORD = "motdepasse-de-test"


@pytest.fixture
def head(db):
    return head_of(EtablissementFactory(), username="chef@example.org")


def login(client, password, **extra):
    return client.post("/connexion/", {"username": "chef@example.org", "password": password}, **extra)


def test_five_failures_block_the_account_from_that_address_even_with_the_right_password(client, head):
    for _ in range(4):
        assert login(client, "mauvais").status_code == 200  # the form again, with its error
    response = login(client, "mauvais")
    assert response.status_code == 429
    assert "Connexion temporairement bloquée" in response.content.decode()
    assert "15 minutes" in response.content.decode()
    blocked = login(client, PASSWORD)
    assert blocked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert Connexion.objects.filter(type=TypeConnexion.ECHEC, identifiant="chef@example.org").count() == 6


def test_the_block_ends_after_the_cool_off(client, head, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    for _ in range(5):
        login(client, "mauvais")
    assert login(client, PASSWORD).status_code == 429
    time_machine.move_to(timezone.now() + datetime.timedelta(minutes=16), tick=False)
    assert login(client, PASSWORD).status_code == 302


def test_a_success_resets_the_count(client, head):
    for _ in range(4):
        login(client, "mauvais")
    assert login(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert login(client, "mauvais").status_code == 200
    assert login(client, PASSWORD).status_code == 302


def test_behind_the_proxy_each_client_address_counts_apart(client, head, settings):
    settings.JUMO_TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(5):
        login(client, "mauvais", HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    assert login(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy).status_code == 429
    # Another client behind the same proxy is not blocked…
    assert login(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy).status_code == 302
    client.logout()
    # …and the blocked one cannot hide behind an address it writes itself (the left part).
    spoofed = login(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7", **proxy)
    assert spoofed.status_code == 429
    assert Connexion.objects.filter(adresse_ip="198.51.100.7").exists()
