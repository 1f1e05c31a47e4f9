"""Notifications (DOMAIN.md "Notifications"): whatever happens in JUMO, the mailbox ce.<uai>@… of
each school concerned is alerted at once, exactly once, and nothing is lost.

How. The workflow announces each recorded Evenement (jumelages.signals); receivers.py calls
`notifier` in the same transaction, which writes one outbox row (Notification) per school
concerned — unique key (event, school) — and queues their sending with
transaction.on_commit: a rolled-back operation leaves no row and queues nothing, no mail
leaves before its data is committed. The Celery task `send_notifications` (tasks.py) sends
the rows: each is claimed first by a conditional UPDATE (statut « à envoyer », or « en
cours » with a claim older than JUMO_NOTIFICATIONS_RECLAMATION_SECONDES) … RETURNING, as
healthchecks' sendalerts claims its flips, so that a task delivered twice, a duplicate beat
or two workers send it once. An SMTP failure puts the row back to « à envoyer » after a
growing delay, up to JUMO_NOTIFICATIONS_TENTATIVES_MAX attempts, then « en échec » (visible
in the admin, re-sendable). The only window for a duplicate is between the SMTP server's
acceptance and the row's update; the row's Message-ID, fixed at creation, is then the same
in both copies, so that mail clients fold them. The periodic sweep `relancer_envois`
re-queues the rows left unsent (an enqueue lost between commit and broker, a worker killed
during a send).

The same rows are the schools' in-app list: `notifications_for`, `unread_count`, `mark_read`.
"""

import datetime
import logging
import os
import re
import smtplib
import time
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import make_msgid

from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.template import Context
from django.template.loader import get_template
from django.utils import timezone

from bmp.models import BMP, Campagne
from establishments.models import Etablissement
from establishments.uai import uai_error
from jumelages.enums import EtatDemande, TypeEvenement
from jumelages.models import Demande, Evenement, JumelageBMP, format_heures, nom_auteur
from jumelages.services import format_instant, instant_de_cloture

from .enums import RAPPEL_ECHEANCE, StatutEnvoi
from .models import Notification

logger = logging.getLogger(__name__)

TYPES_JUMELAGE = {
    TypeEvenement.JUMELAGE_CREE,
    TypeEvenement.JUMELAGE_ETENDU,
    TypeEvenement.JUMELAGE_SUPPRIME,
    TypeEvenement.JUMELAGE_VALIDE,
    TypeEvenement.RATTACHEMENT_MODIFIE,
    TypeEvenement.DEMANDE_ACCEPTEE,
}
TYPES_BMP = {TypeEvenement.BMP_MODIFIE, TypeEvenement.BMP_RETIRE, TypeEvenement.BMP_RESTAURE}


# --- Writing the outbox rows, in the operation's transaction ---------------------------------


def nouveau_message_id() -> str:
    """A Message-ID of its own for each row, on a stable domain (settings.JUMO_MESSAGE_ID_DOMAIN)."""
    return make_msgid(domain=settings.JUMO_MESSAGE_ID_DOMAIN)


def adresse_de(etablissement: Etablissement) -> tuple[str, str]:
    """The school's mailbox ce.<uai>@<domain>, or "" and the French reason when its UAI is invalid."""
    erreur = uai_error(etablissement.uai)
    if erreur:
        return "", (
            f"Aucune adresse ne peut être calculée pour {etablissement.nom} : {erreur} "
            "Corrigez l'UAI de l'établissement, puis renvoyez ce mail."
        )
    return etablissement.adresse_mail, ""


def _adresses(etablissement_ids) -> dict:
    """{school id: (address, error)}: one query for all the schools."""
    etablissements = Etablissement.objects.filter(pk__in=etablissement_ids).only("pk", "uai", "nom")
    return {e.pk: adresse_de(e) for e in etablissements}


A_ENVOYER, EN_ECHEC = StatutEnvoi.A_ENVOYER.value, StatutEnvoi.EN_ECHEC.value


def _nouvelle(now, adresse_et_erreur, **fields) -> Notification:
    """A new row: « à envoyer », or « en échec » with the reason when the school has no address."""
    adresse, erreur = adresse_et_erreur
    return Notification(
        adresse=adresse,
        statut=A_ENVOYER if adresse else EN_ECHEC,
        derniere_erreur=erreur,
        message_id=nouveau_message_id(),
        cree_le=now,
        prochain_essai_le=now,
        **fields,
    )


def notifier(evenements) -> int:
    """DOMAIN.md "Notifications": one mail per school concerned by each event, queued on commit.

    Called by the receivers inside the operation's transaction. The schools are the event's
    etablissements_concernes (its `etablissement_ids`). A constant number of queries whatever
    the number of events: the schools' UAIs, then the rows. A school whose UAI is invalid
    gets its row « en échec » with the reason, never a crash. Returns how many rows were
    written.
    """
    evenements = list(evenements)
    par_evenement = {}
    for evenement in evenements:
        ids = getattr(evenement, "etablissement_ids", None)
        if ids is None:
            ids = evenement.etablissements_concernes.values_list("pk", flat=True)
        par_evenement[evenement.pk] = set(ids)
    ecoles = set().union(*par_evenement.values())
    if not ecoles:
        return 0
    adresses = _adresses(ecoles)
    now = timezone.now()
    if connection.vendor == "postgresql":
        ecrites = _inserer_depuis_les_evenements([e.pk for e in evenements if par_evenement[e.pk]], adresses, now)
    else:
        lignes = [
            _nouvelle(
                now,
                adresses[pk],
                type=evenement.type,
                evenement_id=evenement.pk,
                demande_id=evenement.demande_id,
                jumelage_id=evenement.jumelage_id,
                campagne_id=evenement.campagne_id,
                etablissement_id=pk,
            )
            for evenement in evenements
            for pk in sorted(par_evenement[evenement.pk])
        ]
        Notification.objects.bulk_create(lignes)
        ecrites = len(lignes)
    if any(adresse for adresse, _erreur in adresses.values()):
        envoyer_apres_commit(evenements=[e.pk for e in evenements if par_evenement[e.pk]])
    return ecrites


def _inserer_depuis_les_evenements(evenement_ids, adresses, now) -> int:
    """PostgreSQL: the rows in one INSERT … SELECT from the event–school pairs the workflow has
    just written (etablissements_concernes), computed by the server.

    Ten thousand expired requests make twenty thousand rows: bulk_create takes seconds to
    build them, this statement a fraction of a second (tests/notifications/test_performance.py,
    bench/bench_expiry.py --with-receivers).
    """
    # make_msgid's recipe (time, process id), the pair in place of its random part: unique by
    # the pair's unique key, and short enough for the header to stay on one line.
    debut, fin = f"<{int(time.time() * 100)}.{os.getpid()}.", f"@{settings.JUMO_MESSAGE_ID_DOMAIN}>"
    through = Evenement.etablissements_concernes.through
    q = connection.ops.quote_name
    # The addresses come from Python (Etablissement.adresse_mail, establishments.uai): one rule.
    sql = f"""
        INSERT INTO {q(Notification._meta.db_table)} (
            type, evenement_id, demande_id, jumelage_id, campagne_id, etablissement_id, adresse, message_id,
            statut, derniere_erreur, cree_le, prochain_essai_le, tentatives, sujet, texte, html, lue
        )
        SELECT e.type, e.id, e.demande_id, e.jumelage_id, e.campagne_id, c.etablissement_id, a.adresse,
               %s || c.evenement_id || '.' || c.etablissement_id || %s,
               CASE WHEN a.adresse = '' THEN %s ELSE %s END,
               a.erreur, %s, %s, 0, '', '', '', false
        FROM {q(through._meta.db_table)} c
        JOIN {q(Evenement._meta.db_table)} e ON e.id = c.evenement_id
        JOIN unnest(%s::bigint[], %s::text[], %s::text[]) AS a(id, adresse, erreur) ON a.id = c.etablissement_id
        WHERE c.evenement_id = ANY(%s::bigint[])
    """
    params = [
        debut,
        fin,
        EN_ECHEC,
        A_ENVOYER,
        now,
        now,
        list(adresses),
        [adresse for adresse, _erreur in adresses.values()],
        [erreur for _adresse, erreur in adresses.values()],
        list(evenement_ids),
    ]
    with connection.cursor() as cursor:
        # The planner would JIT-compile the statement of a large sweep, for more than it saves;
        # set always, so that the query count does not depend on the number of events.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return cursor.rowcount


def envoyer_apres_commit(ids=(), *, evenements=()) -> None:
    """Queue the sending of these rows (or of these events' rows) once the transaction commits.

    robust: a broker unreachable at that moment must not turn a committed operation into
    an error page; the rows stay « à envoyer » and the sweep queues them again.
    """
    if not (ids or evenements):
        return
    ids, evenements = list(ids), list(evenements)

    def mettre_en_file_apres_commit():  # a named function: Django logs a robust callback's __qualname__
        mettre_en_file(ids, evenements)

    transaction.on_commit(mettre_en_file_apres_commit, robust=True)


def mettre_en_file(ids, evenements=()) -> None:
    """One Celery message: the process that commits a sweep of thousands of requests publishes
    once; the task splits large sets into batches of JUMO_NOTIFICATIONS_LOT for the workers
    to share (tasks.send_notifications)."""
    from .tasks import send_notifications

    send_notifications.delay(ids=list(ids), evenements=list(evenements))


def a_envoyer(ids=(), evenements=()) -> list[int]:
    """The rows still to send among these rows and the rows of these events, in order."""
    filtre = Q(pk__in=list(ids)) | Q(evenement_id__in=list(evenements))
    return list(
        Notification.objects.filter(filtre, statut=StatutEnvoi.A_ENVOYER).order_by("pk").values_list("pk", flat=True)
    )


def en_lots(ids) -> list[list[int]]:
    taille = settings.JUMO_NOTIFICATIONS_LOT
    return [list(ids[debut : debut + taille]) for debut in range(0, len(ids), taille)]


# --- Reminders (our addition) -----------------------------------------------------------------


def envoyer_rappels(now: datetime.datetime | None = None) -> int:
    """Remind the school(s) that must answer a pending request, JUMO_RAPPEL_AVANT_ECHEANCE_HEURES
    before it ends (its deadline, or the campaign's closing if that comes first).

    Our addition to DOMAIN.md, off when settings.JUMO_RAPPELS_ACTIFS is false. A periodic
    sweep, never a task scheduled ahead: idempotent (at most one reminder per request and
    school, a unique key; two sweeps at once insert it once), a constant number of
    queries. Returns how many reminders were written.
    """
    if not settings.JUMO_RAPPELS_ACTIFS:
        return 0
    now = now or timezone.now()
    avance = datetime.timedelta(hours=settings.JUMO_RAPPEL_AVANT_ECHEANCE_HEURES)
    filtre = Q(pk__in=[])
    for campagne in Campagne.objects.all():
        cloture = instant_de_cloture(campagne)
        if now >= cloture:
            continue
        if cloture <= now + avance:
            filtre |= Q(campagne_id=campagne.pk, echeance__gt=now)
        else:
            filtre |= Q(campagne_id=campagne.pk, echeance__gt=now, echeance__lte=now + avance)
    deja = Notification.objects.filter(type=RAPPEL_ECHEANCE, demande_id=OuterRef("pk"))
    demandes = list(
        Demande.objects.filter(filtre, etat=EtatDemande.EN_ATTENTE)
        .filter(~Exists(deja))
        .values_list("pk", "campagne_id", "cible__etablissement_id", "cible_jumelage_id")
    )
    if not demandes:
        return 0
    membres: dict[int, list[int]] = {}
    for jumelage_id, etablissement_id in JumelageBMP.objects.filter(
        actif=True, jumelage_id__in={d[3] for d in demandes if d[3]}
    ).values_list("jumelage_id", "etablissement_id"):
        membres.setdefault(jumelage_id, []).append(etablissement_id)
    paires = []
    for pk, campagne_id, etablissement_cible, jumelage_id in demandes:
        for etablissement_id in [etablissement_cible] if etablissement_cible else membres.get(jumelage_id, []):
            paires.append((pk, campagne_id, jumelage_id, etablissement_id))
    adresses = _adresses({p[3] for p in paires})
    lignes = [
        _nouvelle(
            now,
            adresses[etablissement_id],
            type=RAPPEL_ECHEANCE,
            demande_id=pk,
            jumelage_id=jumelage_id,
            campagne_id=campagne_id,
            etablissement_id=etablissement_id,
        )
        for pk, campagne_id, jumelage_id, etablissement_id in paires
    ]
    with transaction.atomic():
        # A concurrent sweep may have written some of them already: those are skipped, and
        # ours are recognised by the Message-IDs we drew.
        Notification.objects.bulk_create(lignes, ignore_conflicts=True)
        ecrites = list(
            Notification.objects.filter(message_id__in=[n.message_id for n in lignes]).values_list("pk", "statut")
        )
        envoyer_apres_commit([pk for pk, statut in ecrites if statut == StatutEnvoi.A_ENVOYER])
    return len(ecrites)


# --- Sending, from the Celery task -------------------------------------------------------------


@dataclass
class Bilan:
    """What one run of send_notifications did; `a_reessayer` maps a delay (s) to the rows to retry then."""

    envoyes: list = field(default_factory=list)
    echecs: list = field(default_factory=list)
    deja_pris: list = field(default_factory=list)
    a_reessayer: dict = field(default_factory=dict)


def delai_avant_essai(tentatives: int) -> int:
    """Exponential backoff: JUMO_NOTIFICATIONS_DELAI_ESSAI_SECONDES, doubled after each failure, capped."""
    base = settings.JUMO_NOTIFICATIONS_DELAI_ESSAI_SECONDES
    return min(base * 2 ** max(tentatives - 1, 0), settings.JUMO_NOTIFICATIONS_DELAI_ESSAI_MAX_SECONDES)


def reclamer(pk: int, now: datetime.datetime) -> int | None:
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


def _a_envoyer(ids):
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


def envoyer(ids) -> Bilan:
    """Send these outbox rows over one SMTP connection, each claimed first (see the module).

    A row another task holds, or already sent, is skipped. A failure records the attempt
    and its French error and plans a retry after the backoff delay (or, after the last
    attempt, leaves the row « en échec »). When the server cannot be reached at all, the
    rest of the batch waits for the same retry instead of trying each row.
    """
    bilan = Bilan()
    lignes = {n.pk: n for n in _a_envoyer(ids)}
    connexion = mail.get_connection()
    try:
        ordre = [pk for pk in ids if pk in lignes]
        for rang, pk in enumerate(ordre):
            notification = lignes[pk]
            reclame_le = timezone.now()
            tentatives = reclamer(pk, reclame_le)
            if tentatives is None:
                bilan.deja_pris.append(pk)
                continue
            notification.tentatives = tentatives
            try:
                message = construire_message(notification)
                connexion.open()
                if connexion.send_messages([message]) != 1:
                    raise smtplib.SMTPException("le message n'a pas été accepté")
            except Exception as exc:
                logger.warning("Notification %s : échec de l'envoi n° %s (%s).", pk, tentatives, exc)
                _fermer(connexion)
                delai = _noter_echec(notification, reclame_le, exc)
                bilan.echecs.append(pk)
                if delai is not None:
                    bilan.a_reessayer.setdefault(delai, []).append(pk)
                if _serveur_injoignable(exc):
                    reste = ordre[rang + 1 :]
                    if reste:
                        attente = delai or delai_avant_essai(1)
                        Notification.objects.filter(pk__in=reste, statut=StatutEnvoi.A_ENVOYER).update(
                            prochain_essai_le=timezone.now() + datetime.timedelta(seconds=attente)
                        )
                        bilan.a_reessayer.setdefault(attente, []).extend(reste)
                    break
            else:
                _noter_envoi(notification, reclame_le)
                bilan.envoyes.append(pk)
    finally:
        _fermer(connexion)
    return bilan


def construire_message(notification: Notification) -> mail.EmailMultiAlternatives:
    """The mail of a row: multipart/alternative (plain text carrying the whole message, and HTML).

    Written from the templates on the first attempt and stored, so that every attempt
    sends the same text, under the row's own Message-ID.
    """
    if not notification.sujet:
        sujet, texte, html = rendre(notification)
        Notification.objects.filter(pk=notification.pk).update(sujet=sujet, texte=texte, html=html)
        notification.sujet, notification.texte, notification.html = sujet, texte, html
    message = mail.EmailMultiAlternatives(
        subject=notification.sujet,
        body=notification.texte,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.adresse],
        headers={
            "Message-ID": notification.message_id,
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
        },
    )
    message.attach_alternative(notification.html, "text/html")
    return message


def _noter_envoi(notification: Notification, reclame_le) -> None:
    fait = Notification.objects.filter(pk=notification.pk, statut=StatutEnvoi.EN_COURS, reclame_le=reclame_le).update(
        statut=StatutEnvoi.ENVOYE, envoye_le=timezone.now()
    )
    if not fait:
        logger.warning("Notification %s envoyée alors qu'une autre tâche l'avait reprise.", notification.pk)


def _noter_echec(notification: Notification, reclame_le, exc) -> int | None:
    """Record the failed attempt; returns the delay before the next one, None when it was the last."""
    now = timezone.now()
    erreur = f"Essai n° {notification.tentatives} le {format_instant(now)} : {texte_erreur(exc)}"
    if notification.tentatives >= settings.JUMO_NOTIFICATIONS_TENTATIVES_MAX:
        delai, statut = None, StatutEnvoi.EN_ECHEC
        erreur += f" Abandon après {notification.tentatives} essais : renvoyez-le depuis l'administration."
        prochain = now
    else:
        delai, statut = delai_avant_essai(notification.tentatives), StatutEnvoi.A_ENVOYER
        prochain = now + datetime.timedelta(seconds=delai)
    Notification.objects.filter(pk=notification.pk, statut=StatutEnvoi.EN_COURS, reclame_le=reclame_le).update(
        statut=statut, prochain_essai_le=prochain, derniere_erreur=erreur
    )
    return delai


def _serveur_injoignable(exc) -> bool:
    """The server could not be reached or dropped us (not a refusal of this message)."""
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException)


def texte_erreur(exc) -> str:
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


def _fermer(connexion) -> None:
    try:
        connexion.close()
    except Exception:  # a broken connection cannot be closed cleanly; it is dropped anyway
        logger.debug("Fermeture de la connexion SMTP impossible.", exc_info=True)


# --- The sweep of the outbox -------------------------------------------------------------------


def relancer_envois() -> int:
    """Re-queue the rows left unsent (DOMAIN.md "Notifications": nothing is lost).

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
        envoyer_apres_commit(ids)
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
        envoyer_apres_commit(ids)
    return len(ids)


# --- The in-app list ---------------------------------------------------------------------------


def notifications_for(etablissement: Etablissement):
    """A school's notifications, newest first (the in-app list; one row per mail)."""
    return (
        Notification.objects.filter(etablissement=etablissement)
        .select_related("evenement", "demande", "jumelage")
        .order_by("-cree_le", "-pk")
    )


def unread_count(etablissement: Etablissement) -> int:
    """How many of the school's notifications are unread."""
    return Notification.objects.filter(etablissement=etablissement, lue=False).count()


def mark_read(etablissement: Etablissement, notifications=None) -> int:
    """Mark the school's notifications read: all of them, or only those given (rows or ids).

    Only this school's rows are touched, whatever ids are given. Returns how many changed.
    """
    qs = Notification.objects.filter(etablissement=etablissement, lue=False)
    if notifications is not None:
        qs = qs.filter(pk__in=[n.pk if isinstance(n, Notification) else int(n) for n in notifications])
    return qs.update(lue=True, lue_le=timezone.now())


# --- The text of the mails -----------------------------------------------------------------------


@dataclass
class LigneBMP:
    """A BMP as the mails show it."""

    identifiant: str
    etablissement: Etablissement
    valeur: Decimal
    discipline: object
    chez_le_destinataire: bool

    @property
    def heures(self) -> str:
        return format_heures(self.valeur)


def _bmp(bmp: BMP, destinataire_id: int, heures=None) -> LigneBMP:
    return LigneBMP(
        identifiant=bmp.identifiant,
        etablissement=bmp.etablissement,
        valeur=Decimal(heures) if heures is not None else bmp.heures,
        discipline=bmp.discipline,
        chez_le_destinataire=bmp.etablissement_id == destinataire_id,
    )


def _auteur(evenement) -> dict:
    """The author as the mail names him, worded by the event (Evenement.auteur_libelle)."""
    return {
        "nom": "" if evenement.par_jumo else nom_auteur(evenement.auteur),
        "uai": evenement.auteur_uai,
        "designation": evenement.auteur_libelle(),
        "service": evenement.pour_service,
        "etablissement": evenement.pour_etablissement,
    }


def lien(notification: Notification) -> str:
    """The page in JUMO: /jumelages/<id>/ for a jumelage, /demandes/<id>/ for a request."""
    base = settings.JUMO_BASE_URL.rstrip("/")
    vers_jumelage = notification.type in TYPES_JUMELAGE or notification.type in TYPES_BMP
    if notification.jumelage_id and (vers_jumelage or not notification.demande_id):
        return f"{base}/jumelages/{notification.jumelage_id}/"
    if notification.demande_id:
        return f"{base}/demandes/{notification.demande_id}/"
    return f"{base}/"


def contexte(notification: Notification) -> dict:
    """Everything the templates of notifications/mails/<type>/ may show."""
    n = notification
    destinataire_id = n.etablissement_id
    evenement, demande, jumelage = n.evenement, n.demande, n.jumelage
    donnees = evenement.donnees if evenement else {}
    ctx = {
        "type": n.type,
        "destinataire": n.etablissement,
        "adresse": n.adresse,
        "lien": lien(n),
        "evenement": evenement,
        "auteur": _auteur(evenement) if evenement else None,
        "date": format_instant(evenement.date if evenement else n.cree_le),
        "motif": evenement.get_motif_display() if evenement and evenement.motif else "",
        "commentaire": evenement.commentaire if evenement else "",
        "campagne": n.campagne,
    }
    membres = []
    if jumelage is not None:
        appartenances = list(jumelage.appartenances.all())
        actives = [a for a in appartenances if a.actif]
        membres = [_bmp(a.bmp, destinataire_id) for a in (actives or appartenances)]
    if demande is not None:
        demandeur = _bmp(demande.bmp, destinataire_id)
        if demande.cible_id:
            cibles = [_bmp(demande.cible, destinataire_id)]
        elif jumelage is not None and jumelage.pk == demande.cible_jumelage_id:
            cibles = [m for m in membres if m.identifiant != demandeur.identifiant]
        else:
            cibles = [
                _bmp(a.bmp, destinataire_id)
                for a in JumelageBMP.objects.filter(jumelage_id=demande.cible_jumelage_id, actif=True)
                .select_related("bmp__etablissement", "bmp__discipline")
                .order_by("position")
            ]
        cloture = instant_de_cloture(demande.campagne)
        total = demandeur.valeur + sum((c.valeur for c in cibles), Decimal(0))
        ctx.update(
            demande=demande,
            demandeur=demandeur,
            cibles=cibles,
            vers_jumelage=bool(demande.cible_jumelage_id),
            role="demandeur" if demande.bmp.etablissement_id == destinataire_id else "destinataire",
            discipline=demande.bmp.discipline,
            total_propose=format_heures(total),
            temps_plein=f"{demande.bmp.discipline.heures_temps_plein} h",
            echeance=format_instant(demande.echeance),
            limite=format_instant(min(demande.echeance, cloture)),
            limite_est_cloture=cloture < demande.echeance,
            raison=demande.raison_caducite or (evenement.commentaire if evenement else ""),
            etablissement_demandeur=demande.bmp.etablissement,
            etablissements_cibles=", ".join(str(c.etablissement) for c in cibles),
        )
    if jumelage is not None:
        total = donnees.get("total_heures") if n.type in TYPES_JUMELAGE or n.type in TYPES_BMP else None
        total = Decimal(total) if total else jumelage.total_heures
        ctx.update(
            jumelage=jumelage,
            membres=membres,
            total=format_heures(total),
            temps_plein=f"{jumelage.discipline.heures_temps_plein} h",
            au_dessus=total > jumelage.discipline.heures_temps_plein,
            discipline=jumelage.discipline,
            rattachement=jumelage.rattachement,
            nouveau=membres[-1] if n.type == TypeEvenement.JUMELAGE_ETENDU and membres else None,
        )
    if n.type in TYPES_BMP and evenement is not None:
        bmps = list(evenement.bmps.all())
        if bmps:
            bmp = _bmp(bmps[0], destinataire_id, heures=donnees.get("heures"))
            role = "titulaire" if bmp.chez_le_destinataire else "partenaire"
            ctx.update(bmp=bmp, discipline=bmp.discipline, role=role)
    if n.type == TypeEvenement.RATTACHEMENT_MODIFIE:
        ancien = donnees.get("ancien", "")
        ctx["ancien_rattachement"] = next((m.etablissement for m in membres if m.etablissement.uai == ancien), ancien)
    return ctx


def _gabarit(type_notification: str, partie: str):
    return get_template(f"notifications/mails/{type_notification}/{partie}")


def _propre(texte: str) -> str:
    """Templates leave blank lines where their tags stood: no trailing spaces, one blank line at most."""
    lignes = [ligne.rstrip() for ligne in texte.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lignes)) + "\n"


def rendre(notification: Notification) -> tuple[str, str, str]:
    """(subject, plain text, HTML) from templates/notifications/mails/<type>/."""
    ctx = contexte(notification)
    texte_ctx = Context(ctx, autoescape=False)
    sujet = " ".join(_gabarit(notification.type, "subject.txt").template.render(texte_ctx).split())
    texte = _propre(_gabarit(notification.type, "body.txt").template.render(Context(ctx, autoescape=False)))
    html = re.sub(r"<p>\s*</p>\s*", "", _gabarit(notification.type, "body.html").render(ctx))
    return sujet[:255], texte, html
