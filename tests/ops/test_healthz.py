"""/healthz for the load balancer: JSON, 200 when the database, the broker, beat's heartbeat and
(while a campaign is open) the nightly refresh are fine; 503 otherwise."""

import datetime
import os

import pytest
from django.core.management import call_command

from bmp.enums import StatutImport
from bmp.models import ImportRun
from ops import tasks
from ops.models import Heartbeat
from tests.factories import CampagneFactory
from tests.jumelages.monde import OUVERTE, PREPARATION

pytestmark = pytest.mark.django_db

REDIS = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def beat_now(at):
    def run(instant):
        at(instant)
        tasks.heartbeat()

    return run


def test_healthy_with_a_real_redis_broker_and_a_fresh_heartbeat(client, settings, beat_now):
    settings.CELERY_BROKER_URL = REDIS
    beat_now(PREPARATION)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["statut"] == "ok"
    assert set(body["controles"]) == {"base_de_donnees", "broker", "ordonnanceur", "actualisation"}
    assert all(check["ok"] for check in body["controles"].values())
    assert body["controles"]["ordonnanceur"]["age_secondes"] == 0
    assert "no-cache" in response["Cache-Control"]


def test_a_broker_that_does_not_answer_gives_503(client, settings, beat_now):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    beat_now(PREPARATION)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["controles"]["broker"]["ok"] is False
    assert response.json()["statut"] == "degrade"


def test_without_broker_tasks_run_inline_and_that_is_healthy(client, settings, beat_now):
    settings.CELERY_BROKER_URL = None
    beat_now(PREPARATION)
    assert client.get("/healthz").json()["controles"]["broker"]["ok"] is True


def test_a_heartbeat_older_than_five_minutes_means_beat_stopped(client, settings, at, beat_now):
    settings.CELERY_BROKER_URL = None
    beat_now(PREPARATION)
    at(PREPARATION + datetime.timedelta(minutes=4))
    assert client.get("/healthz").status_code == 200
    at(PREPARATION + datetime.timedelta(minutes=6))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["controles"]["ordonnanceur"] == {
        "ok": False,
        "age_secondes": 360,
        "limite_secondes": 300,
        "duree_ms": response.json()["controles"]["ordonnanceur"]["duree_ms"],
    }


def test_no_heartbeat_at_all_gives_503(client, settings, at):
    settings.CELERY_BROKER_URL = None
    at(PREPARATION)
    assert client.get("/healthz").status_code == 503


def test_while_a_campaign_is_open_the_refresh_must_have_run_last_night(client, settings, at):
    settings.CELERY_BROKER_URL = None
    CampagneFactory(annee=2024)
    opening = datetime.datetime(2024, 6, 17, tzinfo=OUVERTE.tzinfo)
    # First hours of the open phase: no refresh expected yet.
    at(opening + datetime.timedelta(hours=10))
    tasks.heartbeat()
    assert client.get("/healthz").status_code == 200
    # Three days in, and no refresh ever ran.
    at(OUVERTE)
    tasks.heartbeat()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["controles"]["actualisation"]["ok"] is False
    # Last night's run (02:00) is ten hours old: healthy again.
    ImportRun.objects.create(
        lance_par="tâche planifiée", fichier="bmp.csv", statut=StatutImport.APPLIQUE, debut=OUVERTE.replace(hour=2)
    )
    assert client.get("/healthz").status_code == 200


def test_the_heartbeat_keeps_one_row_moving_forward(at):
    at(PREPARATION)
    tasks.heartbeat()
    at(PREPARATION + datetime.timedelta(minutes=1))
    tasks.heartbeat()
    assert list(Heartbeat.objects.values_list("nom", "vu_le")) == [
        ("beat", PREPARATION + datetime.timedelta(minutes=1))
    ]


def test_the_heartbeat_is_in_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["ops-heartbeat"]
    assert entry["task"] == "ops.tasks.heartbeat"
    assert entry["schedule"].minute == set(range(60))


def test_the_sante_command_exits_1_when_a_check_fails(settings, at, capsys):
    settings.CELERY_BROKER_URL = None
    at(PREPARATION)
    with pytest.raises(SystemExit) as exit_:
        call_command("sante", "ordonnanceur")
    assert exit_.value.code == 1
    tasks.heartbeat()
    call_command("sante", "ordonnanceur", "base_de_donnees")
    assert '"statut": "ok"' in capsys.readouterr().out
