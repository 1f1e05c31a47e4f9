"""Delivery with real parts: a real `celery -A jumo worker` on the Redis test broker and a real
SMTP server (aiosmtpd) on loopback, which records what it accepts.

Each school concerned is alerted at once, after the commit,
exactly once, and nothing is lost — not when the SMTP server refuses or is down, not when a
task is delivered twice, not when a worker is killed, not when no worker runs. The process
that commits (here, the test) never opens an SMTP connection.
"""

import asyncio
import datetime
import email
import signal
import smtplib
import socket
import threading
import time
from email import policy

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction
from django.utils import timezone

from jumelages import services as workflow
from notifications import tasks
from notifications.enums import StatutEnvoi
from notifications.models import Notification
from tests.conftest import wait_until
from tests.factories import CampagneFactory
from tests.jumelages.monde import build_monde

pytestmark = pytest.mark.django_db(transaction=True)


class Boite:
    """An SMTP handler keeping each accepted message; it can refuse, or hold a client at MAIL FROM."""

    def __init__(self):
        self.recus = []
        self.refus_data = 0
        self.retenir = threading.Event()
        self.retenu = threading.Event()
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.retenir.is_set():
            self.retenu.set()
            while self.retenir.is_set():
                await asyncio.sleep(0.05)
            return "421 4.3.0 connexion abandonnée"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refus_data:
                self.refus_data -= 1
                return "451 4.3.0 try again"
            message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
            self.recus.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def pour(self, adresse) -> list:
        return [message for rcpt, message in self.recus if adresse in rcpt]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1; `start(port)` may also start it later, on a port kept for it."""
    controllers = []
    boite = Boite()

    def start(port=None):
        controller = Controller(boite, hostname="127.0.0.1", port=port or free_port())
        controller.start()
        controllers.append(controller)
        return controller.port

    boite.start = start
    yield boite
    boite.retenir.clear()
    for controller in controllers:
        controller.stop()


@pytest.fixture
def w(db):
    """The small académie, in a campaign open now: the worker runs on the real clock."""
    today = timezone.localdate()
    campagne = CampagneFactory(
        annee=today.year + 100,
        date_ouverture=today - datetime.timedelta(days=2),
        date_cloture=today + datetime.timedelta(days=5),
        date_fin_validation=today + datetime.timedelta(days=7),
        date_debut_consultation=today + datetime.timedelta(days=9),
        date_fin_consultation=today + datetime.timedelta(days=30),
    )
    return build_monde(campagne)


@pytest.fixture
def no_smtp_here(monkeypatch):
    """The committing process must never open an SMTP connection: here, any attempt fails the test."""

    def refused(*args, **kwargs):
        raise AssertionError("le processus qui valide la transaction a ouvert une connexion SMTP")

    monkeypatch.setattr(smtplib.SMTP, "connect", refused)


def worker_env(port, **extra) -> dict:
    env = {
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "EMAIL_TIMEOUT": "10",
        "JUMO_NOTIFICATIONS_DELAI_ESSAI_SECONDES": "1",
        "JUMO_NOTIFICATIONS_DELAI_ESSAI_MAX_SECONDES": "4",
    }
    return {**env, **{key: str(value) for key, value in extra.items()}}


def rows_of(demande) -> dict:
    return {n.adresse: n for n in Notification.objects.filter(demande=demande)}


def all_sent(demande) -> bool:
    rows = Notification.objects.filter(demande=demande)
    return rows.exists() and not rows.exclude(statut=StatutEnvoi.ENVOYE).exists()


def test_a_request_reaches_each_school_through_a_real_worker_and_smtp_server(
    w, broker, celery_worker, smtp, no_smtp_here
):
    celery_worker(**worker_env(smtp.start()))
    started = time.monotonic()
    demande = workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)  # commits; the send is queued on commit
    wait_until(lambda: len(smtp.recus) == 2, timeout=30)
    assert time.monotonic() - started < 15  # at once: within seconds, not at the next sweep
    rows = rows_of(demande)
    assert sorted(rcpt for rcpt, _message in smtp.recus) == sorted([[w.A.adresse_mail], [w.B.adresse_mail]])
    for adresse, row in rows.items():
        [message] = smtp.pour(adresse)
        assert message.get_content_type() == "multipart/alternative"
        assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
        assert message["Message-ID"] == row.message_id
        assert message["To"] == adresse
        assert message["Subject"].strip() == row.sujet
        assert "ne-pas-repondre@ac-creteil.fr" in message["From"]
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert f"/demandes/{demande.pk}/" in text and "L1300 – MATHEMATIQUES" in text
    assert smtp.pour(w.B.adresse_mail)[0]["Subject"].strip() == (
        f"JUMO – Vous avez reçu une demande de jumelage (L1300) de Collège A ({w.A.uai})"
    )
    wait_until(lambda: all_sent(demande))


def test_a_refusing_server_then_accepting_gets_each_mail_once(w, broker, celery_worker, smtp):
    smtp.refus_data = 1
    celery_worker(**worker_env(smtp.start()))
    demande = workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
    wait_until(lambda: all_sent(demande), timeout=30)
    assert len(smtp.pour(w.A.adresse_mail)) == 1 and len(smtp.pour(w.B.adresse_mail)) == 1
    rows = rows_of(demande)
    retried = [row for row in rows.values() if row.tentatives == 2]
    assert len(retried) == 1 and "451 « 4.3.0 try again »" in retried[0].derniere_erreur
    assert smtp.pour(retried[0].adresse)[0]["Message-ID"] == retried[0].message_id


def test_a_send_task_delivered_twice_and_a_rolled_back_operation_send_nothing_more(w, broker, celery_worker, smtp):
    celery_worker(**worker_env(smtp.start()))
    demande = workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
    wait_until(lambda: all_sent(demande), timeout=30)
    ids = list(Notification.objects.filter(demande=demande).values_list("pk", flat=True))
    tasks.send_notifications.delay(ids=ids)  # the same task, delivered again
    tasks.send_notifications.delay(ids=ids)
    with pytest.raises(RuntimeError), transaction.atomic():
        workflow.send_request(w.head_e, w.bmp_e, w.bmp_l)
        raise RuntimeError("l'opération est annulée")
    # A sentinel: the worker takes messages in order, so once its mails arrive the above are done.
    sentinel = workflow.send_request(w.head_c, w.bmp_c, w.bmp_d)
    wait_until(lambda: all_sent(sentinel) and len(smtp.pour(w.D.adresse_mail)) == 1, timeout=30)
    assert len(smtp.pour(w.A.adresse_mail)) == 1 and len(smtp.pour(w.B.adresse_mail)) == 1
    assert smtp.pour(w.E.adresse_mail) == [] and smtp.pour(w.L.adresse_mail) == []
    assert not Notification.objects.filter(etablissement__in=[w.E, w.L]).exists()
    assert len(smtp.recus) == 4


def test_a_send_queued_while_no_worker_runs_is_delivered_when_one_starts(w, broker, celery_worker, smtp):
    port = smtp.start()
    demande = workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
    time.sleep(1)
    assert smtp.recus == []
    assert set(Notification.objects.filter(demande=demande).values_list("statut", flat=True)) == {"a_envoyer"}
    celery_worker(**worker_env(port))
    wait_until(lambda: len(smtp.recus) == 2, timeout=30)
    wait_until(lambda: all_sent(demande))


def test_a_worker_killed_during_a_send_loses_nothing(w, broker, celery_worker, smtp):
    """Worker A claims a mail and is killed (SIGKILL) in the SMTP exchange, before the server
    accepted anything; the sweep, on worker B, takes the stale claim up: each school gets one mail."""
    smtp.retenir.set()
    port = smtp.start()
    env = worker_env(port, JUMO_NOTIFICATIONS_RECLAMATION_SECONDES=2, JUMO_NOTIFICATIONS_RELANCE_SECONDES=1)
    worker_a = celery_worker(**env)
    demande = workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
    assert smtp.retenu.wait(30), "worker A never reached the SMTP server"
    claimed = Notification.objects.get(demande=demande, statut=StatutEnvoi.EN_COURS)
    worker_a.process.send_signal(signal.SIGKILL)
    worker_a.process.wait()
    smtp.retenir.clear()
    assert smtp.recus == []
    celery_worker(**env)
    time.sleep(2.5)  # the claim grows stale
    tasks.sweep_outbox.delay()
    wait_until(lambda: all_sent(demande), timeout=30)
    assert len(smtp.pour(w.A.adresse_mail)) == 1 and len(smtp.pour(w.B.adresse_mail)) == 1
    claimed.refresh_from_db()
    assert claimed.tentatives == 2
    assert "interrompu (tâche arrêtée avant d'avoir rendu compte)" in claimed.derniere_erreur
    assert smtp.pour(claimed.adresse)[0]["Message-ID"] == claimed.message_id


def test_an_smtp_server_down_at_first_gets_the_mails_after_retries_with_backoff(w, broker, celery_worker, smtp):
    port = free_port()  # nothing listens there yet
    celery_worker(**worker_env(port))
    demande = workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)

    def failed_twice():
        row = Notification.objects.filter(demande=demande).order_by("pk").first()
        return row.tentatives >= 2

    wait_until(failed_twice, timeout=30)
    first = Notification.objects.filter(demande=demande).order_by("pk").first()
    assert first.statut == StatutEnvoi.A_ENVOYER
    assert "le serveur de messagerie est injoignable" in first.derniere_erreur
    # Doubled delay: the next attempt is at least 2 s after the second failure.
    assert first.prochain_essai_le - first.reclame_le >= datetime.timedelta(seconds=2)
    smtp.start(port)
    wait_until(lambda: all_sent(demande), timeout=30)
    assert len(smtp.pour(w.A.adresse_mail)) == 1 and len(smtp.pour(w.B.adresse_mail)) == 1
