"""Only one beat may run (README "Production"); if two do for a while, every periodic task run
twice at the same moment, by two threads each with its own database connection, leaves the
database and the mailboxes exactly as one run does.

The reference "one run" is taken on the same data inside a transaction that is then rolled back;
the two concurrent runs are then committed for real, and their mails sent (Celery eager, locmem).
"""

import datetime
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection, transaction

from bmp import tasks as bmp_tasks
from bmp.enums import StatutImport
from bmp.models import BMP, ImportRun
from jumelages import tasks as jumelages_tasks
from jumelages.enums import EtatDemande, TypeEvenement
from jumelages.models import Demande, Evenement
from notifications import tasks as notifications_tasks
from notifications.enums import StatutEnvoi
from notifications.models import Notification
from notifications.services import outbox as notifications_outbox
from ops import tasks as ops_tasks
from ops.models import Heartbeat
from tests.factories import BMPFactory, CampagneFactory, EtablissementFactory
from tests.jumelages.monde import OUVERTE, VALIDATION, build_monde, jumelage_direct, paris, pending

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def w(db):
    return build_monde(CampagneFactory(annee=2024))


@pytest.fixture(autouse=True)
def eager_tasks():
    """Tasks inline, as the test settings say (no broker), whatever a test using a real worker
    left in the Celery app before this one."""
    from jumo.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def twice_at_once(task) -> list:
    """Run `task` in two threads released together; each thread has its own connection."""
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(task())
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == 2
    return results


def outcome() -> dict:
    """What a sweep changes, named by the rows that existed before it (never by new primary keys)."""
    return {
        "demandes": sorted(Demande.objects.values_list("pk", "etat", "raison_caducite")),
        "evenements": Counter(Evenement.objects.values_list("type", "demande_id", "jumelage_id", "campagne_id")),
        "notifications": Counter(
            Notification.objects.values_list("type", "evenement__type", "demande_id", "etablissement_id", "adresse")
        ),
        "bmps": sorted(BMP.objects.values_list("identifiant", "heures", "actif", "remplace_par_id")),
    }


def once(task) -> dict:
    """The outcome of one run on the current data, rolled back afterwards."""
    with transaction.atomic():
        task()
        reference = outcome()
        transaction.set_rollback(True)
    return reference


def assert_each_mail_sent_once():
    rows = Notification.objects.all()
    assert len(mail.outbox) == rows.count()
    assert sorted(m.extra_headers["Message-ID"] for m in mail.outbox) == sorted(r.message_id for r in rows)
    assert set(rows.values_list("statut", flat=True)) <= {StatutEnvoi.ENVOYE}


def test_expiry_run_twice_at_once_expires_each_request_once(w, at):
    overdue = [pending(w.bmp_a, w.bmp_b), pending(w.bmp_c, w.bmp_d), pending(w.bmp_e, w.bmp_l)]
    recent = pending(w.bmp_d, w.bmp_c, envoyee_le=OUVERTE + datetime.timedelta(hours=60))
    at(OUVERTE + datetime.timedelta(hours=73))
    before = outcome()
    reference = once(jumelages_tasks.expire_overdue_requests)
    assert outcome() == before  # the reference run left nothing behind

    counts = twice_at_once(jumelages_tasks.expire_overdue_requests)

    assert sum(counts) == 3  # shared between the two runs (SKIP LOCKED), each request once
    assert outcome() == reference
    assert {d.etat for d in Demande.objects.filter(pk__in=[d.pk for d in overdue])} == {EtatDemande.EXPIREE}
    assert Demande.objects.get(pk=recent.pk).etat == EtatDemande.EN_ATTENTE
    assert Evenement.objects.filter(type=TypeEvenement.DEMANDE_EXPIREE).count() == 3
    assert_each_mail_sent_once()
    assert jumelages_tasks.expire_overdue_requests() == 0


def test_closing_run_twice_at_once_lapses_each_request_once(w, at):
    late = [
        pending(w.bmp_a, w.bmp_b, envoyee_le=paris(2024, 6, 25, 10, 0)),
        pending(w.bmp_c, w.bmp_d, envoyee_le=paris(2024, 6, 26, 9, 0)),
    ]
    at(VALIDATION)
    reference = once(jumelages_tasks.close_campaigns)

    counts = twice_at_once(jumelages_tasks.close_campaigns)

    assert sum(counts) == 2
    assert outcome() == reference
    assert Evenement.objects.filter(type=TypeEvenement.CAMPAGNE_CLOTUREE).count() == 1
    assert {d.etat for d in Demande.objects.filter(pk__in=[d.pk for d in late])} == {EtatDemande.CADUQUE}
    assert_each_mail_sent_once()


def test_closing_run_twice_at_once_records_the_closing_once(w, at):
    """The race found by this module: both runs read that the closing was not recorded yet."""
    pending(w.bmp_a, w.bmp_b, envoyee_le=paris(2024, 6, 25, 10, 0))
    at(VALIDATION)
    for _ in range(5):  # the race is narrow: give it several chances
        Evenement.objects.filter(type=TypeEvenement.CAMPAGNE_CLOTUREE).delete()
        twice_at_once(jumelages_tasks.close_campaigns)
        assert Evenement.objects.filter(type=TypeEvenement.CAMPAGNE_CLOTUREE).count() == 1


def test_reminders_run_twice_at_once_remind_each_school_once(w, at, settings):
    settings.JUMO_RAPPELS_ACTIFS = True
    demandes = [pending(w.bmp_a, w.bmp_b), pending(w.bmp_c, jumelage=jumelage_direct(w.bmp_d, w.bmp_e))]
    at(OUVERTE + datetime.timedelta(hours=50))  # less than 24 hours before the deadline
    reference = once(notifications_tasks.send_reminders)
    assert reference["notifications"]  # there is something to remind

    twice_at_once(notifications_tasks.send_reminders)

    assert outcome() == reference
    # One reminder per request and school that must answer: B, and D and E for the jumelage.
    reminded = Counter(Notification.objects.filter(demande__in=demandes).values_list("demande_id", "etablissement_id"))
    assert set(reminded.values()) == {1} and len(reminded) == 3
    assert_each_mail_sent_once()


def test_outbox_sweep_run_twice_at_once_sends_each_lost_mail_once(w, at, monkeypatch):
    # Mails written but never queued (their enqueue was lost between commit and broker).
    with monkeypatch.context() as patch:
        patch.setattr(notifications_outbox, "enqueue", lambda ids, evenements: None)
        at(OUVERTE + datetime.timedelta(hours=73))
        pending(w.bmp_a, w.bmp_b, envoyee_le=OUVERTE)
        pending(w.bmp_c, w.bmp_d, envoyee_le=OUVERTE)
        jumelages_tasks.expire_overdue_requests()
    lost = Notification.objects.filter(statut=StatutEnvoi.A_ENVOYER).count()
    assert lost == 4 and not mail.outbox
    at(OUVERTE + datetime.timedelta(hours=74))

    queued = twice_at_once(notifications_tasks.sweep_outbox)

    assert sum(queued) == lost  # each lost mail queued by one sweep only
    assert_each_mail_sent_once()
    assert set(Notification.objects.values_list("tentatives", flat=True)) == {1}
    assert notifications_tasks.sweep_outbox() == 0


def test_nightly_refresh_run_twice_at_once_applies_the_file_once(w, at, settings, tmp_path):
    jumelage_direct(w.bmp_a, w.bmp_b)
    lapsing = pending(w.bmp_e, w.bmp_c)
    extra = BMPFactory(campagne=w.campagne, etablissement=EtablissementFactory(), discipline=w.maths)
    kept = [w.bmp_a, w.bmp_b, w.bmp_c, w.bmp_d, w.bmp_l, extra]  # bmp_e is missing: withdrawn
    lines = ["identifiant;uai;discipline;libelle_discipline;heures"] + [
        f"{b.identifiant};{b.etablissement.uai};L1300;MATHEMATIQUES;{'8' if b == w.bmp_a else b.heures}" for b in kept
    ]
    path = tmp_path / "bmp.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings.JUMO_BMP_REFRESH_FILE = str(path)
    at(OUVERTE + datetime.timedelta(hours=14))
    reference = once(bmp_tasks.nightly_refresh)
    ImportRun.objects.all().delete()  # the reference's own record was rolled back already

    reports = twice_at_once(bmp_tasks.nightly_refresh)

    assert outcome() == reference
    assert [r[0]["statut"] for r in reports] == [StatutImport.APPLIQUE] * 2
    runs = sorted(ImportRun.objects.values_list("modifies", "retires"))
    assert runs == [(0, 0), (1, 1)]  # the second run found the database already up to date
    assert BMP.objects.get(pk=w.bmp_a.pk).heures == Decimal("8")
    assert not BMP.objects.get(pk=w.bmp_e.pk).actif
    assert Demande.objects.get(pk=lapsing.pk).etat == EtatDemande.CADUQUE
    events = Counter(Evenement.objects.values_list("type", flat=True))
    assert events == {TypeEvenement.BMP_MODIFIE: 1, TypeEvenement.DEMANDE_CADUQUE: 1}
    assert_each_mail_sent_once()


def test_heartbeat_run_twice_at_once_keeps_one_row(db, at):
    at(OUVERTE)
    twice_at_once(ops_tasks.heartbeat)
    assert list(Heartbeat.objects.values_list("nom", "vu_le")) == [("beat", OUVERTE)]
