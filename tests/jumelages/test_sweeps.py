"""Time-driven work: periodic sweeps, in bulk, idempotent, safe late (the campaign calendar)."""

import datetime

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jumelages import services, tasks
from jumelages.enums import EtatDemande, TypeEvenement
from jumelages.models import Evenement
from jumelages.signals import evenement_enregistre, evenements_enregistres
from tests.factories import BMPFactory, EtablissementFactory

from .monde import OUVERTE, jumelage_direct, paris, pending

pytestmark = pytest.mark.django_db

LATER = OUVERTE + datetime.timedelta(hours=73)


def overdue_requests(w, count):
    """`count` pending requests from as many schools to B, sent at OUVERTE; one of them to a jumelage."""
    jumelage = jumelage_direct(w.bmp_c, w.bmp_d)
    demandes = [pending(w.bmp_a, jumelage=jumelage)]
    for _ in range(count - 1):
        bmp = BMPFactory(campagne=w.campagne, etablissement=EtablissementFactory(), discipline=w.maths)
        demandes.append(pending(bmp, w.bmp_b))
    return demandes


@pytest.fixture
def without_receivers():
    """Only jumelages' own queries: the receivers of its signals (notifications) are set aside."""
    saved = {}
    for signal in (evenement_enregistre, evenements_enregistres):
        saved[signal] = signal.receivers
        signal.receivers = []
        signal.sender_receivers_cache.clear()
    yield
    for signal, receivers in saved.items():
        signal.receivers = receivers
        signal.sender_receivers_cache.clear()


def add_overdue(w, count, sent):
    for _ in range(count):
        bmp = BMPFactory(campagne=w.campagne, etablissement=EtablissementFactory(), discipline=w.maths)
        pending(bmp, w.bmp_b, envoyee_le=sent)


@pytest.mark.parametrize("count", [1, 30])
def test_expiry_itself_is_five_queries_whatever_the_number_of_requests(w, at, without_receivers, count):
    overdue_requests(w, count)
    at(LATER)
    # the campaigns, a savepoint, SET LOCAL jit, one statement (lock, update, events and their
    # links), release
    with CaptureQueriesContext(connection) as queries:
        assert services.expire_overdue() == count
    assert len(queries) == 5


def test_expiry_takes_the_same_queries_for_one_and_for_many_overdue_requests(w, at, django_assert_num_queries):
    """With every receiver of the signals connected (the notifications too): still constant."""
    add_overdue(w, 1, OUVERTE)
    at(OUVERTE + datetime.timedelta(hours=72))
    with CaptureQueriesContext(connection) as queries:
        assert services.expire_overdue() == 1
    add_overdue(w, 40, OUVERTE + datetime.timedelta(hours=1))
    at(OUVERTE + datetime.timedelta(hours=73))
    with django_assert_num_queries(len(queries)):
        assert services.expire_overdue() == 40


def test_expiry_records_each_event_in_bulk_and_announces_them_with_one_signal(w, at):
    demandes = overdue_requests(w, 3)
    announced, single = [], []

    def listen(sender, evenements, **kwargs):
        announced.append(evenements)

    def listen_single(sender, evenement, **kwargs):
        single.append(evenement)

    evenements_enregistres.connect(listen)
    evenement_enregistre.connect(listen_single)
    try:
        at(LATER)
        services.expire_overdue()
    finally:
        evenements_enregistres.disconnect(listen)
        evenement_enregistre.disconnect(listen_single)
    assert len(announced) == 1 and single == []
    evenements = announced[0]
    assert [e.type for e in evenements] == [TypeEvenement.DEMANDE_EXPIREE] * 3
    assert {e.demande_id for e in evenements} == {d.pk for d in demandes}
    by_request = {e.demande_id: e for e in evenements}
    to_jumelage = by_request[demandes[0].pk]
    assert to_jumelage.jumelage_id == demandes[0].cible_jumelage_id
    assert set(to_jumelage.etablissement_ids) == {w.A.pk, w.C.pk, w.D.pk}
    assert set(to_jumelage.etablissements_concernes.values_list("pk", flat=True)) == {w.A.pk, w.C.pk, w.D.pk}
    assert set(to_jumelage.bmps.all()) == {w.bmp_a, w.bmp_c, w.bmp_d}
    other = by_request[demandes[1].pk]
    assert set(other.etablissement_ids) == {demandes[1].bmp.etablissement_id, w.B.pk}
    assert all(e.auteur is None and e.date == LATER for e in evenements)


def test_expiry_run_twice_expires_nothing_the_second_time(w, at):
    overdue_requests(w, 5)
    at(LATER)
    assert services.expire_overdue() == 5
    assert services.expire_overdue() == 0
    assert Evenement.objects.filter(type=TypeEvenement.DEMANDE_EXPIREE).count() == 5


def test_expiry_leaves_requests_within_their_deadline(w, at):
    late = pending(w.bmp_a, w.bmp_b, envoyee_le=OUVERTE)
    fresh = pending(w.bmp_c, w.bmp_d, envoyee_le=OUVERTE + datetime.timedelta(hours=2))
    at(OUVERTE + datetime.timedelta(hours=72, minutes=1))
    assert services.expire_overdue() == 1
    late.refresh_from_db(), fresh.refresh_from_db()
    assert late.etat == EtatDemande.EXPIREE and fresh.etat == EtatDemande.EN_ATTENTE


# --- Closing ----------------------------------------------------------------------------

CLOSING = paris(2024, 6, 27, 0, 0)


def test_at_closing_pending_requests_become_caduque(w, at):
    demande = pending(w.bmp_a, w.bmp_b, envoyee_le=paris(2024, 6, 26, 9, 0))
    at(paris(2024, 6, 26, 23, 59))
    assert services.close_campaigns() == 0
    at(paris(2024, 6, 27, 0, 5))
    assert services.close_campaigns() == 1
    demande.refresh_from_db()
    assert demande.etat == EtatDemande.CADUQUE
    assert demande.raison_caducite == "la campagne est close aux établissements depuis le 27 juin 2024 à 00 h 00"
    assert demande.evenements.get(type=TypeEvenement.DEMANDE_CADUQUE).commentaire == demande.raison_caducite
    cloture = Evenement.objects.get(type=TypeEvenement.CAMPAGNE_CLOTUREE)
    assert cloture.campagne == w.campagne


def test_closing_run_twice_changes_nothing_the_second_time(w, at):
    pending(w.bmp_a, w.bmp_b, envoyee_le=paris(2024, 6, 26, 9, 0))
    at(paris(2024, 6, 27, 1, 0))
    assert services.close_campaigns() == 1
    assert services.close_campaigns() == 0
    assert Evenement.objects.filter(type=TypeEvenement.CAMPAGNE_CLOTUREE).count() == 1
    assert Evenement.objects.filter(type=TypeEvenement.DEMANDE_CADUQUE).count() == 1


@pytest.mark.parametrize("order", ["expire_first", "close_first"])
def test_after_a_day_without_scheduler_each_request_ends_as_it_would_have(w, at, order):
    expired_before = pending(w.bmp_a, w.bmp_b, envoyee_le=paris(2024, 6, 23, 10, 0))  # deadline 26 June 10:00
    open_at_closing = pending(w.bmp_c, w.bmp_d, envoyee_le=paris(2024, 6, 25, 10, 0))  # deadline 28 June 10:00
    at(paris(2024, 6, 29, 3, 0))
    sweeps = [services.expire_overdue, services.close_campaigns]
    for sweep in sweeps if order == "expire_first" else reversed(sweeps):
        sweep()
    expired_before.refresh_from_db(), open_at_closing.refresh_from_db()
    assert expired_before.etat == EtatDemande.EXPIREE
    assert open_at_closing.etat == EtatDemande.CADUQUE


def test_the_phase_never_waits_for_the_closing_sweep(w, at):
    demande = pending(w.bmp_a, w.bmp_b, envoyee_le=paris(2024, 6, 26, 9, 0))
    expired = pending(w.bmp_c, w.bmp_d, envoyee_le=paris(2024, 6, 23, 9, 0))  # deadline 26 June 9:00
    at(paris(2024, 6, 26, 23, 59))
    assert demande.etat_effectif == EtatDemande.EN_ATTENTE
    at(paris(2024, 6, 27, 9, 0))  # the sweep has not run
    with pytest.raises(services.WorkflowError):
        services.accept_request(w.head_b, demande)
    assert demande.etat == EtatDemande.EN_ATTENTE
    assert demande.etat_effectif == EtatDemande.CADUQUE
    assert expired.etat_effectif == EtatDemande.EXPIREE


# --- The beat tasks ------------------------------------------------------------------------


def test_the_expiry_task_runs_the_sweep(w, at):
    overdue_requests(w, 2)
    at(LATER)
    assert tasks.expire_overdue_requests.apply().get() == 2
    assert tasks.expire_overdue_requests.apply().get() == 0


def test_the_closing_task_runs_the_sweep(w, at):
    pending(w.bmp_a, w.bmp_b, envoyee_le=paris(2024, 6, 26, 9, 0))
    at(paris(2024, 6, 28, 0, 0))
    assert tasks.close_campaigns.apply().get() == 1
    assert tasks.close_campaigns.apply().get() == 0


def test_beat_sweeps_the_database_periodically():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["jumelages-expire-overdue-requests"]["task"] == "jumelages.tasks.expire_overdue_requests"
    assert schedule["jumelages-close-campaigns"]["task"] == "jumelages.tasks.close_campaigns"
    for key in ("jumelages-expire-overdue-requests", "jumelages-close-campaigns"):
        # a crontab running at least every quarter of an hour, never a one-off countdown
        assert len(schedule[key]["schedule"].minute) >= 4
    from jumo.celery import app

    app.loader.import_default_modules()
    assert {"jumelages.tasks.expire_overdue_requests", "jumelages.tasks.close_campaigns"} <= set(app.tasks)
