"""Sending the outbox rows (from the Celery tasks of tasks.py), retrying them, and the sweep that
makes sure nothing is lost.

Each row is claimed first by a conditional UPDATE (statut « à envoyer », or « en cours » with
a claim older than JUMO_NOTIFICATIONS_RECLAMATION_SECONDES) … RETURNING, as healthchecks'
sendalerts claims its flips, so that a task delivered twice, a duplicate beat or two workers
send it once. An SMTP failure puts the row back to « à envoyer » after a growing delay, up to
JUMO_NOTIFICATIONS_TENTATIVES_MAX attempts, then « en échec » (visible in the admin,
re-sendable). The only window for a duplicate is between the SMTP server's acceptance and the
row's update; the row's Message-ID, fixed at creation, is then the same in both copies, so
that mail clients fold them. The periodic sweep `relancer_envois` re-queues the rows left
unsent (an enqueue lost between commit and broker, a worker killed during a send).
"""

import datetime
import logging
import smtplib
from dataclasses import dataclass, field

from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from bmp.models import BMP
from jumelages.models import JumelageBMP
from jumelages.services import format_instant

from ..enums import StatutEnvoi
from ..models import Notification
from .mails import build_message
from .outbox import adresse_de, send_on_commit

logger = logging.getLogger(__name__)


def unsent(ids=(), evenements=()) -> list[int]:
    """The rows still to send among these rows and the rows of these events, in order."""
    filtre = Q(pk__in=list(ids)) | Q(evenement_id__in=list(evenements))
    return list(
        Notification.objects.filter(filtre, statut=StatutEnvoi.A_ENVOYER).order_by("pk").values_list("pk", flat=True)
    )


def batches(ids) -> list[list[int]]:
    """The rows by batches of JUMO_NOTIFICATIONS_LOT, one Celery message each."""
    taille = settings.JUMO_NOTIFICATIONS_LOT
    return [list(ids[debut : debut + taille]) for debut in range(0, len(ids), taille)]


@dataclass
class SendReport:
    """What one run of send_notifications did; `retry` maps a delay (s) to the rows to retry then."""

    sent: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    taken: list = field(default_factory=list)
    retry: dict = field(default_factory=dict)


def retry_delay(tentatives: int) -> int:
    """Exponential backoff: JUMO_NOTIFICATIONS_DELAI_ESSAI_SECONDES, doubled after each failure, capped."""
    base = settings.JUMO_NOTIFICATIONS_DELAI_ESSAI_SECONDES
    return min(base * 2 ** max(tentatives - 1, 0), settings.JUMO_NOTIFICATIONS_DELAI_ESSAI_MAX_SECONDES)


def claim(pk: int, now: datetime.datetime) -> int | None:
    """Claim a row for sending: a conditional UPDATE … RETURNING, so only one task gets it.

    The row is claimable when « à envoyer » and due, or « en cours » with a claim older than
    JUMO_NOTIFICATIONS_RECLAMATION_SECONDES (its worker died). Returns its attempt number,
    or None when another task has it or it is done.
    """
    perime = now - datetime.timedelta(seconds=settings.JUMO_NOTIFICATIONS_RECLAMATION_SECONDES)
    table = connection.ops.quote_name(Notification._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET statut = %s, reclame_le = %s, tentatives = tentatives + 1 "
            "WHERE id = %s AND ((statut = %s AND prochain_essai_le <= %s) OR (statut = %s AND reclame_le < %s)) "
            "RETURNING tentatives",
            [
                StatutEnvoi.EN_COURS.value,
                now,
                pk,
                StatutEnvoi.A_ENVOYER.value,
                now,
                StatutEnvoi.EN_COURS.value,
                perime,
            ],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _rows_with_their_mail_data(ids):
    return (
        Notification.objects.filter(pk__in=ids)
        .select_related(
            "etablissement",
            "evenement__auteur",
            "evenement__pour_etablissement",
            "evenement__pour_service",
            "demande__campagne",
            "demande__bmp__etablissement",
            "demande__bmp__discipline",
            "demande__cible__etablissement",
            "jumelage__discipline",
            "jumelage__rattachement",
            "campagne",
        )
        .prefetch_related(
            Prefetch("evenement__bmps", queryset=BMP.objects.select_related("etablissement", "discipline")),
            Prefetch(
                "jumelage__appartenances",
                queryset=JumelageBMP.objects.select_related("bmp__etablissement", "bmp__discipline").order_by(
                    "position"
                ),
            ),
        )
    )


def send(ids) -> SendReport:
    """Send these outbox rows over one SMTP connection, each claimed first (see the module).

    A row another task holds, or already sent, is skipped. A failure records the attempt
    and its French error and plans a retry after the backoff delay (or, after the last
    attempt, leaves the row « en échec »). When the server cannot be reached at all, the
    rest of the batch waits for the same retry instead of trying each row.
    """
    report = SendReport()
    lignes = {n.pk: n for n in _rows_with_their_mail_data(ids)}
    connexion = mail.get_connection()
    try:
        ordre = [pk for pk in ids if pk in lignes]
        for rang, pk in enumerate(ordre):
            notification = lignes[pk]
            reclame_le = timezone.now()
            tentatives = claim(pk, reclame_le)
            if tentatives is None:
                report.taken.append(pk)
                continue
            notification.tentatives = tentatives
            try:
                message = build_message(notification)
                connexion.open()
                if connexion.send_messages([message]) != 1:
                    raise smtplib.SMTPException("le message n'a pas été accepté")
            except Exception as exc:
                logger.warning("Notification %s : échec de l'envoi n° %s (%s).", pk, tentatives, exc)
                _close(connexion)
                delai = _record_failure(notification, reclame_le, exc)
                report.failed.append(pk)
                if delai is not None:
                    report.retry.setdefault(delai, []).append(pk)
                if _server_unreachable(exc):
                    reste = ordre[rang + 1 :]
                    if reste:
                        attente = delai or retry_delay(1)
                        Notification.objects.filter(pk__in=reste, statut=StatutEnvoi.A_ENVOYER).update(
                            prochain_essai_le=timezone.now() + datetime.timedelta(seconds=attente)
                        )
                        report.retry.setdefault(attente, []).extend(reste)
                    break
            else:
                _record_sent(notification, reclame_le)
                report.sent.append(pk)
    finally:
        _close(connexion)
    return report


def _record_sent(notification: Notification, reclame_le) -> None:
    fait = Notification.objects.filter(pk=notification.pk, statut=StatutEnvoi.EN_COURS, reclame_le=reclame_le).update(
        statut=StatutEnvoi.ENVOYE, envoye_le=timezone.now()
    )
    if not fait:
        logger.warning("Notification %s envoyée alors qu'une autre tâche l'avait reprise.", notification.pk)


def _record_failure(notification: Notification, reclame_le, exc) -> int | None:
    """Record the failed attempt; returns the delay before the next one, None when it was the last."""
    now = timezone.now()
    erreur = f"Essai n° {notification.tentatives} le {format_instant(now)} : {error_text(exc)}"
    if notification.tentatives >= settings.JUMO_NOTIFICATIONS_TENTATIVES_MAX:
        delai, statut = None, StatutEnvoi.EN_ECHEC
        erreur += f" Abandon après {notification.tentatives} essais : renvoyez-le depuis l'administration."
        prochain = now
    else:
        delai, statut = retry_delay(notification.tentatives), StatutEnvoi.A_ENVOYER
        prochain = now + datetime.timedelta(seconds=delai)
    Notification.objects.filter(pk=notification.pk, statut=StatutEnvoi.EN_COURS, reclame_le=reclame_le).update(
        statut=statut, prochain_essai_le=prochain, derniere_erreur=erreur
    )
    return delai


def _server_unreachable(exc) -> bool:
    """The server could not be reached or dropped us (not a refusal of this message)."""
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def error_text(exc) -> str:
    """The French account of a failed send, as shown in the admin."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refus = "; ".join(
            f"{adresse} ({code} « {_decode(texte)} »)" for adresse, (code, texte) in exc.recipients.items()
        )
        return f"le serveur de messagerie a refusé le destinataire : {refus}."
    if isinstance(exc, smtplib.SMTPConnectError):
        return f"le serveur de messagerie a refusé la connexion ({exc.smtp_code} « {_decode(exc.smtp_error)} »)."
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"le serveur de messagerie a coupé la connexion ({exc})."
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"le serveur de messagerie a répondu {exc.smtp_code} « {_decode(exc.smtp_error)} »."
    if isinstance(exc, TimeoutError):
        return "le serveur de messagerie ne répond pas (délai dépassé)."
    if isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
        return f"le serveur de messagerie est injoignable ({exc})."
    return f"erreur inattendue ({exc.__class__.__name__} : {exc})."


def _decode(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _close(connexion) -> None:
    try:
        connexion.close()
    except Exception:  # a broken connection cannot be closed cleanly; it is dropped anyway
        logger.debug("Fermeture de la connexion SMTP impossible.", exc_info=True)


# --- The sweep of the outbox -------------------------------------------------------------------


def relancer_envois() -> int:
    """Re-queue the rows left unsent: no alert is lost.

    A periodic sweep, idempotent, safe concurrently (SKIP LOCKED): rows « en cours » whose
    claim is older than JUMO_NOTIFICATIONS_RECLAMATION_SECONDES (a worker killed during a
    send: the attempt is recorded as interrupted) and rows « à envoyer » due for more than
    JUMO_NOTIFICATIONS_RELANCE_SECONDES (an enqueue lost between commit and broker, a retry
    lost with its worker) are queued again; a claim makes sure each is sent once. Returns
    how many rows were queued.
    """
    now = timezone.now()
    perime = now - datetime.timedelta(seconds=settings.JUMO_NOTIFICATIONS_RECLAMATION_SECONDES)
    oublie = now - datetime.timedelta(seconds=settings.JUMO_NOTIFICATIONS_RELANCE_SECONDES)
    limite = settings.JUMO_NOTIFICATIONS_RELANCE_MAX
    with transaction.atomic():
        interrompues = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(statut=StatutEnvoi.EN_COURS, reclame_le__lt=perime)
            .order_by("pk")
            .values_list("pk", "tentatives", "reclame_le")[:limite]
        )
        for pk, tentatives, reclame_le in interrompues:
            erreur = (
                f"Essai n° {tentatives} du {format_instant(reclame_le)} interrompu (tâche arrêtée avant d'avoir "
                "rendu compte) : le mail est repris."
            )
            dernier = tentatives >= settings.JUMO_NOTIFICATIONS_TENTATIVES_MAX
            Notification.objects.filter(pk=pk, statut=StatutEnvoi.EN_COURS, reclame_le=reclame_le).update(
                statut=StatutEnvoi.EN_ECHEC if dernier else StatutEnvoi.A_ENVOYER,
                prochain_essai_le=now,
                derniere_erreur=erreur + (" Abandon : renvoyez-le depuis l'administration." if dernier else ""),
            )
        oubliees = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(statut=StatutEnvoi.A_ENVOYER, prochain_essai_le__lte=oublie)
            .order_by("pk")
            .values_list("pk", flat=True)[:limite]
        )
        # Not again at the next sweep unless still unsent by then.
        Notification.objects.filter(pk__in=oubliees).update(prochain_essai_le=now)
        ids = sorted(
            set(oubliees)
            | {pk for pk, tentatives, _r in interrompues if tentatives < settings.JUMO_NOTIFICATIONS_TENTATIVES_MAX}
        )
        send_on_commit(ids)
    if ids:
        logger.info("Boîte d'envoi : %s mail(s) remis en file.", len(ids))
    return len(ids)


def renvoyer(notifications) -> int:
    """Send again (admin action « renvoyer »): rows en échec, or already sent, keep their Message-ID.

    The address is computed again from the school's current UAI (it may have been
    corrected); the attempts start again from zero. A row being sent is left alone.
    Returns how many rows were queued.
    """
    ids = []
    now = timezone.now()
    with transaction.atomic():
        for notification in (
            Notification.objects.select_for_update(of=("self",))
            .select_related("etablissement")
            .filter(pk__in=[n.pk for n in notifications])
            .exclude(statut=StatutEnvoi.EN_COURS)
            .order_by("pk")
        ):
            adresse, erreur = adresse_de(notification.etablissement)
            notification.adresse = adresse
            notification.tentatives = 0
            notification.prochain_essai_le = now
            notification.statut = StatutEnvoi.A_ENVOYER if adresse else StatutEnvoi.EN_ECHEC
            if erreur:
                notification.derniere_erreur = erreur
            notification.save(update_fields=["adresse", "tentatives", "prochain_essai_le", "statut", "derniere_erreur"])
            if adresse:
                ids.append(notification.pk)
        send_on_commit(ids)
    return len(ids)
