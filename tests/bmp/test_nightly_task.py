"""bmp.tasks.nightly_refresh: during the open phase only, from settings.JUMO_BMP_REFRESH_FILE, never a crash."""

import datetime
import logging
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings as django_settings

from bmp.models import BMP, ImportRun
from bmp.tasks import nightly_refresh

from .conftest import make_csv

PARIS = ZoneInfo("Europe/Paris")


def at(*args):
    return time_machine.travel(datetime.datetime(*args, tzinfo=PARIS), tick=False)


@pytest.fixture
def refresh_file(tmp_path, settings, schools, disciplines):
    path = tmp_path / "bmp.csv"
    path.write_bytes(
        make_csv(
            [["BMP-1", schools[0].uai, "L1300", "", "9"], ["BMP-2", schools[1].uai, "L1300", "", "4"]],
        )
    )
    settings.JUMO_BMP_REFRESH_FILE = str(path)
    return path


def test_beat_schedule_points_to_the_task():
    entry = django_settings.CELERY_BEAT_SCHEDULE["bmp-nightly-refresh"]
    assert entry["task"] == nightly_refresh.name == "bmp.tasks.nightly_refresh"


def test_runs_during_the_open_phase(campagne, refresh_file):
    with at(2024, 6, 18, 2, 0):
        report = nightly_refresh()
    assert BMP.objects.filter(campagne=campagne, actif=True).count() == 2
    run = ImportRun.objects.get()
    assert (run.statut, run.lance_par, run.fichier) == ("applique", "tâche planifiée", str(refresh_file))
    assert report == [{"campagne": 2024, "statut": "applique", "import": run.pk}]


def test_first_night_of_the_open_phase_counts(campagne, refresh_file):
    with at(2024, 6, 17, 0, 30):
        nightly_refresh()
    assert ImportRun.objects.count() == 1


def test_running_twice_changes_nothing_the_second_time(campagne, refresh_file):
    with at(2024, 6, 18, 2, 0):
        nightly_refresh()
    with at(2024, 6, 19, 2, 0):
        nightly_refresh()
    second = ImportRun.objects.order_by("debut").last()
    assert (second.ajoutes, second.modifies, second.retires, second.inchanges) == (0, 0, 0, 2)
    assert BMP.objects.count() == 2


@pytest.mark.parametrize(
    ("instant", "phase"),
    [
        ((2024, 6, 16, 2, 0), "préparation"),
        ((2024, 6, 27, 2, 0), "validation"),
        ((2024, 7, 15, 2, 0), "consultation"),
        ((2024, 9, 2, 2, 0), "archivée"),
    ],
)
def test_does_nothing_outside_the_open_phase_and_says_why(campagne, refresh_file, caplog, instant, phase):
    caplog.set_level(logging.INFO, logger="bmp.tasks")
    with at(*instant):
        report = nightly_refresh()
    assert not BMP.objects.exists()
    assert not ImportRun.objects.exists()
    assert f"campagne 2024 en phase « {phase} », rien à faire" in caplog.text
    assert report[0]["statut"] == "ignoree"


def test_missing_file_is_logged_and_recorded_not_a_crash(campagne, settings, tmp_path, caplog):
    settings.JUMO_BMP_REFRESH_FILE = str(tmp_path / "absent.csv")
    with at(2024, 6, 18, 2, 0):
        report = nightly_refresh()
    run = ImportRun.objects.get()
    assert run.statut == "echec"
    assert run.lance_par == "tâche planifiée"
    assert run.erreurs[0]["message"] == (
        f"Le fichier d'actualisation des BMP « {tmp_path / 'absent.csv'} » est introuvable : rien n'a été modifié."
    )
    assert report[0]["statut"] == "echec"
    assert any(r.levelno == logging.ERROR and "introuvable" in r.getMessage() for r in caplog.records)


def test_invalid_file_is_logged_and_recorded_as_rejected(campagne, refresh_file, schools, caplog):
    refresh_file.write_bytes(make_csv([["BMP-1", schools[0].uai, "L1300", "", "abc"]]))
    with at(2024, 6, 18, 2, 0):
        nightly_refresh()
    assert ImportRun.objects.get().statut == "rejete"
    assert not BMP.objects.exists()
    assert any(r.levelno == logging.ERROR and "Ligne 2, colonne « heures »" in r.getMessage() for r in caplog.records)


def test_only_open_campaigns_are_refreshed(campagne, refresh_file):
    from tests.factories import CampagneFactory

    CampagneFactory(annee=2023)  # archived by June 2024
    with at(2024, 6, 18, 2, 0):
        report = nightly_refresh()
    assert [(r["campagne"], r["statut"]) for r in report] == [(2023, "ignoree"), (2024, "applique")]
    assert set(ImportRun.objects.values_list("campagne__annee", flat=True)) == {2024}


def test_no_campaign_at_all_does_nothing(db, caplog):
    caplog.set_level(logging.INFO, logger="bmp.tasks")
    assert nightly_refresh() == []
    assert "aucune campagne" in caplog.text
