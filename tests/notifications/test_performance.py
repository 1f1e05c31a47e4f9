"""The expiry sweep stays fast with its notifications (issue: 10,000 expired requests ≤ 2 s).

The outbox rows of a bulk event are written by one COPY in the sweep's transaction, and their
sends queued on commit as one broker message, which a worker splits into batches.
Measured on the real path: PostgreSQL, the commit, and the publish to the Redis broker.
"""

import datetime
import os
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bmp.models import BMP
from establishments.models import Etablissement
from jumelages import services
from jumelages.enums import EtatDemande
from jumelages.models import Demande
from notifications import services as notifications
from notifications import tasks
from notifications.enums import StatutEnvoi
from notifications.models import Notification
from notifications.services import outbox
from tests.factories import CampagneFactory, CommuneFactory, DisciplineFactory, valid_uai
from tests.jumelages.monde import paris

REQUESTS = 10_000
SCHOOLS = 200
# The outbox's part of the expiry's 2 s (CPU seconds); measured 0.4 to 0.5 s on a busy machine.
SHARE_SECONDS = 0.8


def overdue_requests(count: int, *, schools: int = SCHOOLS, prefix: str = "", first_uai: int = 1) -> None:
    """`count` pending requests of the 2024 campaign, all past their deadline, between distinct schools."""
    campagne = CampagneFactory(annee=2024)
    discipline = DisciplineFactory()
    commune = CommuneFactory()
    Etablissement.objects.bulk_create(
        Etablissement(
            uai=valid_uai(first_uai + n),
            nom=f"Collège {n}",
            type="CLG",
            departement=commune.departement,
            commune=commune,
        )
        for n in range(schools)
    )
    ids = list(
        Etablissement.objects.filter(nom__startswith="Collège ", uai__gte=valid_uai(first_uai))
        .order_by("uai")
        .values_list("pk", flat=True)[:schools]
    )
    half = len(ids) // 2
    targets = BMP.objects.bulk_create(
        BMP(
            campagne=campagne,
            etablissement_id=ids[n],
            discipline=discipline,
            heures=Decimal(9),
            identifiant=f"{prefix}C{n}",
        )
        for n in range(half)
    )
    requesters = BMP.objects.bulk_create(
        BMP(
            campagne=campagne,
            etablissement_id=ids[half + n % half],
            discipline=discipline,
            heures=Decimal(8),
            identifiant=f"{prefix}D{n}",
        )
        for n in range(count)
    )
    envoyee_le = paris(2024, 6, 18, 9, 0)
    Demande.objects.bulk_create(
        Demande(
            campagne=campagne,
            bmp=bmp,
            cible=targets[n % half],
            envoyee_le=envoyee_le,
            echeance=envoyee_le + datetime.timedelta(hours=72),
        )
        for n, bmp in enumerate(requesters)
    )
    with connection.cursor() as cursor:  # as after autovacuum: the planner knows the tables' sizes
        for model in (Etablissement, BMP, Demande):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def cpu_clock():
    """CPU seconds of this process and of its PostgreSQL backend (same host): unlike the wall
    clock, barely moved by other work on the machine (as bench/bench_expiry.py measures)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        stat = Path(f"/proc/{cursor.fetchone()[0]}/stat")

    def seconds() -> float:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # PostgreSQL elsewhere: this process only
            return time.process_time()
        return time.process_time() + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    return seconds


@pytest.mark.django_db(transaction=True)
def test_the_mails_of_10000_expired_requests_cost_the_sweep_little_and_one_broker_message(broker, monkeypatch):
    """The notifications' share of the sweep: writing 20,000 rows and queueing their sends.

    The whole sweep must stay within 2 s (bench/bench_expiry.py --with-receivers, run with a
    broker); the outbox gets at most SHARE_SECONDS of it, in CPU time of this process and its
    database backend, so that other work on the machine does not fail the test.
    """
    overdue_requests(REQUESTS)
    clock = cpu_clock()
    spent = {"rows": 0.0, "queue": 0.0}
    published = []
    write, queue = notifications.notifier, outbox.enqueue

    def timed(key, call):
        def run(*args, **kwargs):
            started = clock()
            try:
                return call(*args, **kwargs)
            finally:
                spent[key] += clock() - started

        return run

    monkeypatch.setattr(notifications, "notifier", timed("rows", write))
    monkeypatch.setattr(outbox, "enqueue", timed("queue", queue))
    publish = tasks.send_notifications.delay

    def count(*args, **kwargs):
        published.append(kwargs)
        return publish(*args, **kwargs)

    monkeypatch.setattr(tasks.send_notifications, "delay", count)
    started, cpu = time.perf_counter(), clock()
    expired = services.expire_overdue()  # commits, then queues the sends on commit
    elapsed, cpu = time.perf_counter() - started, clock() - cpu
    share = spent["rows"] + spent["queue"]
    print(
        f"\nexpire_overdue, {REQUESTS} requests: {elapsed:.2f} s ({cpu:.2f} s CPU) in all; "
        f"{2 * REQUESTS} outbox rows {spent['rows']:.2f} s CPU, their enqueue {spent['queue']:.3f} s CPU"
    )
    assert expired == REQUESTS
    assert Demande.objects.filter(etat=EtatDemande.EXPIREE).count() == REQUESTS
    assert Notification.objects.filter(statut=StatutEnvoi.A_ENVOYER).count() == 2 * REQUESTS
    assert len(published) == 1  # one message to the broker; a worker splits it in batches
    assert len(published[0]["evenements"]) == REQUESTS
    assert share <= SHARE_SECONDS


@pytest.mark.django_db
def test_the_outbox_rows_of_a_sweep_take_a_constant_number_of_queries(django_capture_on_commit_callbacks):
    """Five or fifty expired requests: the same queries (the sends are queued after commit)."""
    counts = []
    for size, prefix, first_uai in ((5, "a", 1), (50, "b", 1001)):
        overdue_requests(size, schools=10, prefix=prefix, first_uai=first_uai)
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=False):
            assert services.expire_overdue() == size
        assert Notification.objects.filter(demande__bmp__identifiant__startswith=prefix).count() == 2 * size
        counts.append(len(queries))
    assert counts[0] == counts[1]
