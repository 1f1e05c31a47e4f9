"""The nightly refresh run by a real Celery worker on the Redis broker, as beat would start it."""

import datetime

import pytest
from django.utils import timezone

from bmp.enums import StatutImport
from bmp.models import BMP, Campagne, ImportRun
from bmp.tasks import nightly_refresh
from tests.bmp.conftest import make_csv
from tests.conftest import wait_until
from tests.factories import DisciplineFactory, EtablissementFactory, valid_uai


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_nightly_refresh_of_the_open_campaign(celery_worker, tmp_path):
    today = timezone.localdate()
    campagne = Campagne.objects.create(
        annee=2030,
        date_ouverture=today - datetime.timedelta(days=1),
        date_cloture=today + datetime.timedelta(days=5),
        date_fin_validation=today + datetime.timedelta(days=7),
        date_debut_consultation=today + datetime.timedelta(days=8),
        date_fin_consultation=today + datetime.timedelta(days=60),
    )
    school = EtablissementFactory(uai=valid_uai(41))
    DisciplineFactory(code="L1300", libelle="MATHEMATIQUES")
    refresh_file = tmp_path / "bmp.csv"
    refresh_file.write_bytes(
        make_csv([["BMP-1", school.uai, "L1300", "MATHEMATIQUES", "7,5"], ["BMP-2", school.uai, "L1900", "EPS", "6"]])
    )

    celery_worker(JUMO_BMP_REFRESH_FILE=str(refresh_file))
    nightly_refresh.delay()

    wait_until(lambda: ImportRun.objects.filter(campagne=campagne).exists(), timeout=60)
    run = ImportRun.objects.get(campagne=campagne)
    assert run.statut == StatutImport.APPLIQUE
    assert run.lance_par == "tâche planifiée"
    assert run.ajoutes == 2
    assert sorted(BMP.objects.filter(campagne=campagne).values_list("identifiant", "heures")) == [
        ("BMP-1", 7.5),
        ("BMP-2", 6),
    ]
