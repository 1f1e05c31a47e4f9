"""Writing the outbox rows, in the operation's transaction, and queueing their sending on commit.

The workflow announces each recorded Evenement (jumelages.signals); receivers.py calls
`notifier` inside the operation's transaction, which writes one row (Notification) per school
concerned — unique key (event, school) — and queues their sending with
transaction.on_commit: a rolled-back operation leaves no row and queues nothing, no mail
leaves before its data is committed.

This module does not import tasks.py (which imports the services): the send task is found
by its name in the Celery app's registry (NotificationsConfig.ready imports tasks.py, so it
is always registered).
"""

import os
import time
from email.utils import make_msgid

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from establishments.models import Etablissement
from establishments.uai import uai_error
from jumelages.models import Evenement

from ..enums import StatutEnvoi
from ..models import Notification

# The task that sends the rows (tasks.send_notifications).
SEND_TASK = "notifications.tasks.send_notifications"

A_ENVOYER, EN_ECHEC = StatutEnvoi.A_ENVOYER.value, StatutEnvoi.EN_ECHEC.value


def new_message_id() -> str:
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


def addresses(etablissement_ids) -> dict:
    """{school id: (address, error)}: one query for all the schools."""
    etablissements = Etablissement.objects.filter(pk__in=etablissement_ids).only("pk", "uai", "nom")
    return {e.pk: adresse_de(e) for e in etablissements}


def new_row(now, adresse_et_erreur, **fields) -> Notification:
    """A new row: « à envoyer », or « en échec » with the reason when the school has no address."""
    adresse, erreur = adresse_et_erreur
    return Notification(
        adresse=adresse,
        statut=A_ENVOYER if adresse else EN_ECHEC,
        derniere_erreur=erreur,
        message_id=new_message_id(),
        cree_le=now,
        prochain_essai_le=now,
        **fields,
    )


def notifier(evenements) -> int:
    """Every operation alerts the mailbox of each school concerned, at once: one mail per school
    concerned by each event, queued on commit.

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
    adresses = addresses(ecoles)
    now = timezone.now()
    if connection.vendor == "postgresql":
        ecrites = _insert_from_events([e.pk for e in evenements if par_evenement[e.pk]], adresses, now)
    else:
        lignes = [
            new_row(
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
        send_on_commit(evenements=[e.pk for e in evenements if par_evenement[e.pk]])
    return ecrites


def _insert_from_events(evenement_ids, adresses, now) -> int:
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


def send_on_commit(ids=(), *, evenements=()) -> None:
    """Queue the sending of these rows (or of these events' rows) once the transaction commits.

    robust: a broker unreachable at that moment must not turn a committed operation into
    an error page; the rows stay « à envoyer » and the sweep queues them again.
    """
    if not (ids or evenements):
        return
    ids, evenements = list(ids), list(evenements)

    def enqueue_on_commit():  # a named function: Django logs a robust callback's __qualname__
        enqueue(ids, evenements)

    transaction.on_commit(enqueue_on_commit, robust=True)


def enqueue(ids, evenements=()) -> None:
    """One Celery message: the process that commits a sweep of thousands of requests publishes
    once; the task splits large sets into batches of JUMO_NOTIFICATIONS_LOT for the workers
    to share (tasks.send_notifications)."""
    current_app.tasks[SEND_TASK].delay(ids=list(ids), evenements=list(evenements))
