"""The outbox (at once, after the commit, exactly once, nothing lost).

One row per mail, written in the operation's transaction; the send queued on commit; each
row claimed by a conditional UPDATE before its send; failures retried with backoff, then
« en échec » and re-sendable from the admin; a sweep for what was left behind. Here with
the locmem backend and eager tasks; tests/notifications/test_delivery.py does it again
with a real worker and a real SMTP server.
"""

import ast
import datetime
import smtplib
from pathlib import Path

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from jumelages import services as workflow
from jumelages.enums import Motif, TypeEvenement
from jumelages.models import Evenement
from notifications import services, tasks
from notifications.enums import StatutEnvoi
from notifications.models import Notification
from tests.factories import BMPFactory, EtablissementFactory, UserFactory, valid_uai
from tests.jumelages.monde import OUVERTE, jumelage_direct

from .conftest import by_address

pytestmark = pytest.mark.django_db


class FlakyBackend(EmailBackend):
    """locmem, but the first `failures` sends fail with the given exception."""

    failures = 0
    error = smtplib.SMTPDataError(451, b"try again")
    attempts = 0

    def send_messages(self, messages):
        FlakyBackend.attempts += 1
        if FlakyBackend.failures:
            FlakyBackend.failures -= 1
            raise FlakyBackend.error
        return super().send_messages(messages)


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.FlakyBackend"
    FlakyBackend.failures, FlakyBackend.attempts = 0, 0
    FlakyBackend.error = smtplib.SMTPDataError(451, b"try again")
    return FlakyBackend


def request_ab(w, django_capture_on_commit_callbacks, *, execute=True):
    with django_capture_on_commit_callbacks(execute=execute) as callbacks:
        demande = workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
    return demande, callbacks


# --- After the commit, never before; nothing for a rollback ---------------------------------------


def test_the_rows_are_written_with_the_operation_and_the_send_waits_for_the_commit(
    w, ouverte, django_capture_on_commit_callbacks
):
    demande, callbacks = request_ab(w, django_capture_on_commit_callbacks, execute=False)
    rows = Notification.objects.filter(demande=demande)
    assert sorted(rows.values_list("adresse", "statut")) == sorted(
        [(w.A.adresse_mail, StatutEnvoi.A_ENVOYER), (w.B.adresse_mail, StatutEnvoi.A_ENVOYER)]
    )
    assert mail.outbox == []  # nothing sent while the transaction is open
    assert len(callbacks) == 1  # one enqueue, on commit
    callbacks[0]()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([w.A.adresse_mail, w.B.adresse_mail])
    assert set(rows.values_list("statut", flat=True)) == {StatutEnvoi.ENVOYE}


def test_a_rolled_back_operation_leaves_no_row_and_sends_nothing(w, ouverte, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
            raise RuntimeError("la requête échoue après l'opération")
    assert callbacks == []
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_a_broker_unreachable_at_commit_loses_nothing(w, ouverte, at, django_capture_on_commit_callbacks, monkeypatch):
    """The operation succeeds; its rows wait « à envoyer »; the sweep sends them later."""

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker injoignable")

    monkeypatch.setattr(tasks.send_notifications, "delay", broker_down)
    demande, _ = request_ab(w, django_capture_on_commit_callbacks)
    assert demande.pk and mail.outbox == []
    assert Notification.objects.filter(statut=StatutEnvoi.A_ENVOYER).count() == 2
    monkeypatch.undo()
    at(OUVERTE + datetime.timedelta(minutes=3))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.relancer_envois() == 2
    assert len(mail.outbox) == 2


def test_the_outbox_queues_the_send_task_by_name_and_never_imports_the_tasks():
    """tasks.py imports the services, not the reverse: the outbox finds the task in Celery's registry."""
    from celery import current_app

    assert current_app.tasks[services.SEND_TASK] is tasks.send_notifications._get_current_object()
    package = Path(services.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            assert not any(name.split(".")[-1] == "tasks" for name in names), f"{module.name} imports the tasks"


# --- Exactly once ----------------------------------------------------------------------------------


def test_a_send_task_delivered_twice_sends_each_mail_once(w, ouverte, django_capture_on_commit_callbacks):
    request_ab(w, django_capture_on_commit_callbacks)
    ids = list(Notification.objects.values_list("pk", flat=True))
    assert len(mail.outbox) == 2
    tasks.send_notifications(ids=ids)
    tasks.send_notifications(ids=ids)
    assert len(mail.outbox) == 2
    assert set(Notification.objects.values_list("tentatives", flat=True)) == {1}


def test_a_row_claimed_by_one_task_is_refused_to_another(w, ouverte, django_capture_on_commit_callbacks):
    request_ab(w, django_capture_on_commit_callbacks, execute=False)
    row = Notification.objects.first()
    now = timezone.now()
    assert services.claim(row.pk, now) == 1
    assert services.claim(row.pk, now) is None
    row.refresh_from_db()
    assert (row.statut, row.reclame_le) == (StatutEnvoi.EN_COURS, now)


def test_a_claim_older_than_the_timeout_is_taken_over(w, ouverte, django_capture_on_commit_callbacks, settings):
    settings.JUMO_NOTIFICATIONS_RECLAMATION_SECONDES = 600
    request_ab(w, django_capture_on_commit_callbacks, execute=False)
    row = Notification.objects.first()
    assert services.claim(row.pk, OUVERTE) == 1
    assert services.claim(row.pk, OUVERTE + datetime.timedelta(seconds=599)) is None
    assert services.claim(row.pk, OUVERTE + datetime.timedelta(seconds=601)) == 2


def test_two_rows_never_share_a_message_id(w, ouverte, django_capture_on_commit_callbacks):
    request_ab(w, django_capture_on_commit_callbacks, execute=False)
    first, second = Notification.objects.order_by("pk")
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.filter(pk=second.pk).update(message_id=first.message_id)


def test_an_event_has_one_row_per_school(w, ouverte, django_capture_on_commit_callbacks):
    request_ab(w, django_capture_on_commit_callbacks, execute=False)
    row = Notification.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(
            type=row.type,
            evenement=row.evenement,
            etablissement=row.etablissement,
            message_id=services.new_message_id(),
        )


def test_the_same_signal_received_twice_writes_no_second_row(w, ouverte, django_capture_on_commit_callbacks):
    request_ab(w, django_capture_on_commit_callbacks, execute=False)
    evenement = Evenement.objects.get(type=TypeEvenement.DEMANDE_ENVOYEE)
    with pytest.raises(IntegrityError), transaction.atomic():
        services.notifier([evenement])
    assert Notification.objects.count() == 2


# --- Failures, backoff, en échec, renvoyer --------------------------------------------------------


def test_a_refusing_smtp_server_gets_the_mail_again_after_the_backoff_once(
    w, ouverte, flaky, at, django_capture_on_commit_callbacks
):
    flaky.failures = 1
    request_ab(w, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1  # the second row of the batch went through
    failed = Notification.objects.get(statut=StatutEnvoi.A_ENVOYER)
    assert failed.tentatives == 1
    assert failed.prochain_essai_le == OUVERTE + datetime.timedelta(seconds=60)
    assert failed.derniere_erreur == (
        "Essai n° 1 le 20 juin 2024 à 12 h 00 : le serveur de messagerie a répondu 451 « try again »."
    )
    tasks.send_notifications(ids=[failed.pk])  # too early: the backoff holds
    assert len(mail.outbox) == 1
    at(OUVERTE + datetime.timedelta(seconds=60))
    tasks.send_notifications(ids=[failed.pk])
    tasks.send_notifications(ids=[failed.pk])
    assert len(mail.outbox) == 2
    failed.refresh_from_db()
    assert (failed.statut, failed.tentatives) == (StatutEnvoi.ENVOYE, 2)
    assert mail.outbox[1].extra_headers["Message-ID"] == failed.message_id


def test_the_backoff_doubles_up_to_its_ceiling(settings):
    settings.JUMO_NOTIFICATIONS_DELAI_ESSAI_SECONDES = 60
    settings.JUMO_NOTIFICATIONS_DELAI_ESSAI_MAX_SECONDES = 3600
    assert [services.retry_delay(n) for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_an_unreachable_server_leaves_the_whole_batch_for_the_retry(
    w, ouverte, flaky, django_capture_on_commit_callbacks
):
    flaky.failures = 10
    flaky.error = ConnectionRefusedError(111, "Connection refused")
    request_ab(w, django_capture_on_commit_callbacks)
    assert flaky.attempts == 1  # one connection attempt for the batch, not one per mail
    rows = Notification.objects.order_by("pk")
    assert [r.tentatives for r in rows] == [1, 0]
    assert {r.statut for r in rows} == {StatutEnvoi.A_ENVOYER}
    assert {r.prochain_essai_le for r in rows} == {OUVERTE + datetime.timedelta(seconds=60)}
    assert "le serveur de messagerie est injoignable" in rows[0].derniere_erreur


def test_after_the_last_attempt_the_mail_is_en_echec_then_renvoyer_sends_it_with_its_message_id(
    w, ouverte, flaky, at, settings, django_capture_on_commit_callbacks
):
    settings.JUMO_NOTIFICATIONS_TENTATIVES_MAX = 3
    flaky.failures = 100
    request_ab(w, django_capture_on_commit_callbacks, execute=False)
    row = Notification.objects.get(adresse=w.B.adresse_mail)
    for _attempt in range(3):
        tasks.send_notifications(ids=[row.pk])
        row.refresh_from_db()
        at(row.prochain_essai_le)
    assert (row.statut, row.tentatives) == (StatutEnvoi.EN_ECHEC, 3)
    assert row.derniere_erreur.endswith("Abandon après 3 essais : renvoyez-le depuis l'administration.")
    tasks.send_notifications(ids=[row.pk])
    assert flaky.attempts == 3  # en échec: nothing more until someone sends it again

    flaky.failures = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.renvoyer([row]) == 1
    row.refresh_from_db()
    assert (row.statut, row.tentatives) == (StatutEnvoi.ENVOYE, 1)
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [row.message_id]


def test_a_school_without_a_valid_uai_is_an_error_in_the_admin_not_a_crash(
    w, ouverte, django_capture_on_commit_callbacks
):
    right = valid_uai(7777)
    wrong = right[:7] + ("A" if right[7] != "A" else "B")  # the shape of a UAI, a wrong check letter
    broken = EtablissementFactory(uai=wrong, nom="Collège Z", commune=w.A.commune)
    bmp_z = BMPFactory(campagne=w.campagne, etablissement=broken, discipline=w.maths)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.send_request(w.head_a, w.bmp_a, bmp_z)
    assert [m.to for m in mail.outbox] == [[w.A.adresse_mail]]
    row = Notification.objects.get(etablissement=broken)
    assert (row.statut, row.adresse) == (StatutEnvoi.EN_ECHEC, "")
    assert row.derniere_erreur == (
        f"Aucune adresse ne peut être calculée pour Collège Z : L'UAI « {wrong} » a une lettre clé erronée : "
        f"la lettre attendue est « {right[7]} ». Corrigez l'UAI de l'établissement, puis renvoyez ce mail."
    )
    # Once the UAI is corrected, « renvoyer » computes the address again.
    broken.uai = right
    broken.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.renvoyer([row]) == 1
    assert mail.outbox[-1].to == [f"ce.{right.lower()}@ac-creteil.fr"]


# --- The sweep ------------------------------------------------------------------------------------


def test_the_sweep_queues_rows_whose_enqueue_was_lost(w, ouverte, at, settings, django_capture_on_commit_callbacks):
    settings.JUMO_NOTIFICATIONS_RELANCE_SECONDES = 120
    request_ab(w, django_capture_on_commit_callbacks, execute=False)  # the commit's enqueue never ran
    at(OUVERTE + datetime.timedelta(seconds=119))
    assert services.relancer_envois() == 0
    at(OUVERTE + datetime.timedelta(seconds=121))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.relancer_envois() == 2
    assert len(mail.outbox) == 2
    at(OUVERTE + datetime.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.relancer_envois() == 0
    assert len(mail.outbox) == 2


def test_the_sweep_takes_up_a_mail_whose_worker_died_during_the_send(
    w, ouverte, settings, at, django_capture_on_commit_callbacks
):
    settings.JUMO_NOTIFICATIONS_RECLAMATION_SECONDES = 600
    request_ab(w, django_capture_on_commit_callbacks, execute=False)
    row = Notification.objects.get(adresse=w.B.adresse_mail)
    assert services.claim(row.pk, OUVERTE) == 1  # …and the worker is killed
    at(OUVERTE + datetime.timedelta(seconds=601))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.relancer_envois() == 2
    row.refresh_from_db()
    assert (row.statut, row.tentatives) == (StatutEnvoi.ENVOYE, 2)
    assert row.derniere_erreur == (
        "Essai n° 1 du 20 juin 2024 à 12 h 00 interrompu (tâche arrêtée avant d'avoir rendu compte) : "
        "le mail est repris."
    )
    assert [m.extra_headers["Message-ID"] for m in mail.outbox if m.to == [w.B.adresse_mail]] == [row.message_id]


def test_the_sweep_leaves_fresh_rows_and_rows_waiting_for_their_backoff(
    w, ouverte, at, flaky, settings, django_capture_on_commit_callbacks
):
    settings.JUMO_NOTIFICATIONS_RELANCE_SECONDES = 120
    settings.JUMO_NOTIFICATIONS_DELAI_ESSAI_SECONDES = 600
    flaky.failures = 2
    request_ab(w, django_capture_on_commit_callbacks)
    assert Notification.objects.filter(statut=StatutEnvoi.A_ENVOYER).count() == 2
    at(OUVERTE + datetime.timedelta(seconds=700))
    assert services.relancer_envois() == 0
    at(OUVERTE + datetime.timedelta(seconds=721))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.relancer_envois() == 2
    assert len(mail.outbox) == 2


# --- In the application ---------------------------------------------------------------------------


def test_each_school_has_its_list_and_its_unread_count(w, ouverte, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        demande = workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
        workflow.refuse_request(w.head_b, demande, Motif.QUOTITE_INADAPTEE)
        workflow.send_request(w.head_c, w.bmp_c, w.bmp_d)
    listed = list(services.notifications_for(w.A))
    assert [n.type for n in listed] == [TypeEvenement.DEMANDE_REFUSEE, TypeEvenement.DEMANDE_ENVOYEE]
    assert listed[0].titre == "JUMO – Votre demande de jumelage (L1300) a été refusée"
    assert services.unread_count(w.A) == 2 and services.unread_count(w.C) == 1 and services.unread_count(w.E) == 0


def test_mark_read_touches_only_the_schools_own_rows(w, ouverte, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
        workflow.send_request(w.head_c, w.bmp_c, w.bmp_b)
    of_b = list(services.notifications_for(w.B))
    of_a = list(services.notifications_for(w.A))
    assert services.mark_read(w.B, [of_b[0], of_a[0].pk]) == 1  # A's row is not B's to mark
    assert services.unread_count(w.B) == 1 and services.unread_count(w.A) == 1
    of_b[0].refresh_from_db()
    assert of_b[0].lue and of_b[0].lue_le == OUVERTE
    assert services.mark_read(w.B) == 1
    assert services.unread_count(w.B) == 0 and services.unread_count(w.A) == 1


# --- The admin --------------------------------------------------------------------------------------


def test_the_admin_lists_the_outbox_and_renvoyer_queues_the_mails_again(
    w, ouverte, client, django_capture_on_commit_callbacks
):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.delete_jumelage(w.head_a, jumelage, Motif.AUTRE, "Doublon")
    assert len(mail.outbox) == 2
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get(reverse("admin:notifications_notification_changelist"))
    assert page.status_code == 200
    assert w.B.adresse_mail in page.content.decode()
    row = Notification.objects.get(adresse=w.B.adresse_mail)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:notifications_notification_changelist"),
            {"action": "renvoyer", "_selected_action": [row.pk]},
            follow=True,
        )
    assert "1 mail(s) remis en file d&#x27;envoi (même Message-ID)." in response.content.decode()
    assert len(mail.outbox) == 3
    assert by_address(mail.outbox[2:])[w.B.adresse_mail].extra_headers["Message-ID"] == row.message_id
    assert client.get(reverse("admin:notifications_notification_change", args=[row.pk])).status_code == 200
