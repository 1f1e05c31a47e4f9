"""The security journal: logins, failed logins and logouts, with the client's address; every
admin action in Django's LogEntry; both read-only in the admin, for superusers only."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry

from audit.enums import Methode, TypeConnexion
from audit.models import Connexion
from establishments.models import Discipline
from tests.factories import EtablissementFactory, UserFactory, agent_of, head_of
from tests.jumelages.monde import ensure_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def head(db):
    return head_of(EtablissementFactory(), username="chef@example.org")


def test_a_login_and_a_logout_are_recorded_with_the_address(client, head):
    client.post(
        "/connexion/",
        {"username": "chef@example.org", "password": "motdepasse-de-test"},
        REMOTE_ADDR="198.51.100.4",
        HTTP_USER_AGENT="Firefox de test",
    )
    client.post("/deconnexion/", REMOTE_ADDR="198.51.100.4")
    lines = list(Connexion.objects.order_by("date", "pk").values_list("type", "methode", "utilisateur", "adresse_ip"))
    assert lines == [
        (TypeConnexion.CONNEXION, Methode.MOT_DE_PASSE, head.pk, "198.51.100.4"),
        (TypeConnexion.DECONNEXION, Methode.MOT_DE_PASSE, head.pk, "198.51.100.4"),
    ]
    assert Connexion.objects.get(type=TypeConnexion.CONNEXION).navigateur == "Firefox de test"


def test_a_failed_login_is_recorded_with_the_identifier_tried(client, head):
    client.post("/connexion/", {"username": "chef@example.org", "password": "faux"}, REMOTE_ADDR="198.51.100.4")
    client.post("/connexion/", {"username": "inconnu@example.org", "password": "x"}, REMOTE_ADDR="198.51.100.5")
    failures = Connexion.objects.filter(type=TypeConnexion.ECHEC).order_by("pk")
    assert list(failures.values_list("identifiant", "utilisateur", "adresse_ip")) == [
        ("chef@example.org", None, "198.51.100.4"),
        ("inconnu@example.org", None, "198.51.100.5"),
    ]


def test_an_admin_login_is_recorded_too(client, db):
    UserFactory(username="admin@example.org", is_staff=True, is_superuser=True)
    client.post("/admin/login/", {"username": "admin@example.org", "password": "motdepasse-de-test"})
    assert Connexion.objects.filter(type=TypeConnexion.CONNEXION, identifiant="admin@example.org").exists()


def test_an_admin_change_is_in_the_admin_journal(admin_client, admin_user):
    discipline = Discipline.objects.create(code="L0100", libelle="PHILOSOPHIE")
    response = admin_client.post(
        f"/admin/establishments/discipline/{discipline.pk}/change/",
        {"code": "L0100", "libelle": "PHILO", "heures_temps_plein": 18},
    )
    assert response.status_code == 302
    entry = LogEntry.objects.get()
    assert (entry.user, entry.action_flag, entry.object_repr) == (admin_user, CHANGE, str(Discipline.objects.get()))


def test_the_journals_are_read_only_for_superusers(admin_client, client):
    Connexion.objects.create(type=TypeConnexion.ECHEC, methode=Methode.MOT_DE_PASSE, identifiant="x@example.org")
    line = Connexion.objects.get(identifiant="x@example.org")
    assert admin_client.get("/admin/audit/connexion/").status_code == 200
    assert "x@example.org" in admin_client.get("/admin/audit/connexion/").content.decode()
    assert admin_client.get(f"/admin/audit/connexion/{line.pk}/change/").status_code == 200
    assert admin_client.post(f"/admin/audit/connexion/{line.pk}/change/", {"identifiant": "y"}).status_code == 403
    assert admin_client.get("/admin/audit/connexion/add/").status_code == 403
    assert admin_client.post(f"/admin/audit/connexion/{line.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/admin/logentry/").status_code == 200
    assert Connexion.objects.filter(identifiant="x@example.org").exists()
    # A DOS agent (staff, not superuser) does not see them.
    ensure_services()
    client.force_login(agent_of("0949999H", is_staff=True))
    assert client.get("/admin/audit/connexion/").status_code == 403
    assert client.get("/admin/admin/logentry/").status_code == 403
