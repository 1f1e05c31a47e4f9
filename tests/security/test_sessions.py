"""A session ends 12 hours after login, or after 30 minutes without a request; its cookies are
HttpOnly (session), SameSite=Lax, and Secure in production."""

import datetime

import pytest
from django.utils import timezone

from tests.factories import EtablissementFactory, head_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(time_machine):
    start = timezone.now()
    time_machine.move_to(start, tick=False)

    def after(**delta):
        time_machine.move_to(start + datetime.timedelta(**delta), tick=False)

    return after


@pytest.fixture
def head(db):
    return head_of(EtablissementFactory(), username="chef@example.org")


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_thirty_minutes_without_a_request_end_the_session(client, head, clock):
    client.force_login(head)
    clock(minutes=29)
    assert client.get("/").status_code == 200
    clock(minutes=29 + 31)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/connexion/")
    assert not logged_in(client)
    page = client.get(response["Location"]).content.decode()
    assert "Votre session a expiré" in page


def test_an_active_session_still_ends_twelve_hours_after_login(client, head, clock):
    client.force_login(head)
    for minutes in range(20, 12 * 60, 20):  # a request every 20 minutes
        clock(minutes=minutes)
        assert client.get("/").status_code == 200, minutes
    clock(hours=12, minutes=1)
    assert client.get("/").status_code == 302
    assert not logged_in(client)


def test_the_cookies_flags(client, head, settings):
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    page = client.get("/connexion/")
    csrf = page.cookies["csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Lax"
    response = client.post("/connexion/", {"username": "chef@example.org", "password": "motdepasse-de-test"})
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["httponly"] and session["secure"] and session["samesite"] == "Lax"
    assert session["max-age"] == 12 * 3600
