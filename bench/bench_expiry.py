"""Benchmark of the expiry sweep: 100,000 pending requests, 10,000 past their deadline.

    .venv/bin/python bench/bench_expiry.py [--runs 5] [--reseed | --recreate]

Runs against its own PostgreSQL database (BENCH_DATABASE_URL, by default
postgres://postgres@127.0.0.1:5432/jumo_bench_expiry), created and migrated if missing,
seeded once. It times jumelages.services.expire_overdue() — the UPDATE, the events and
their many-to-many rows written in bulk, the commit, and the `evenements_enregistres`
signal with its receivers: the notifications' outbox rows and the queued send (a Redis
broker is configured, CELERY_BROKER_URL or redis://127.0.0.1:6379/11, so that mails are
queued, not sent inline; no worker runs) — and counts its queries for 10,000 and for 100
overdue requests: the count must be the same (target: ≤ 2 s for 10,000).
`--without-receivers` sets the project's receivers aside to time the workflow alone.
Besides the wall-clock time, the CPU time of the process and of its PostgreSQL backend is
printed: on a machine shared with other work, it is the figure that does not depend on the load.
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/jumo_bench_expiry")
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jumo.settings.test")

PENDING = 100_000
OVERDUE = 10_000
SCHOOLS = 1_000
ANNEE = 2999


def ensure_database(recreate=False):
    """CREATE DATABASE if missing, or again (connected to the server's `postgres` database)."""
    import environ
    import psycopg

    config = environ.Env.db_url_config(DATABASE_URL)
    params = {"host": config["HOST"], "port": config["PORT"] or 5432, "user": config["USER"], "dbname": "postgres"}
    if config.get("PASSWORD"):
        params["password"] = config["PASSWORD"]
    with psycopg.connect(**params, autocommit=True) as conn:
        if recreate:
            if "bench" not in config["NAME"]:
                raise SystemExit(f"Refus de supprimer la base {config['NAME']} : son nom ne contient pas « bench ».")
            conn.execute(f'DROP DATABASE IF EXISTS "{config["NAME"]}"')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{config["NAME"]}"')
            print(f"Base {config['NAME']} créée.")


def seed(now):
    """1,000 collèges, 100,000 BMPs, 100,000 pending requests (BMP i → BMP i+1, another school)."""
    from django.db import connection, transaction

    from bmp.models import BMP, Campagne
    from establishments.models import Commune, Departement, Discipline, Etablissement
    from establishments.uai import uai_check_letter
    from jumelages.models import Demande

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE jumelages_evenement, jumelages_demande, jumelages_jumelage CASCADE")
    today = now.date()
    with transaction.atomic():
        BMP.objects.filter(campagne__annee=ANNEE).delete()
        Campagne.objects.filter(annee=ANNEE).delete()
        campagne = Campagne.objects.create(
            annee=ANNEE,
            date_ouverture=today - datetime.timedelta(days=3),
            date_cloture=today + datetime.timedelta(days=7),
            date_fin_validation=today + datetime.timedelta(days=9),
            date_debut_consultation=today + datetime.timedelta(days=12),
            date_fin_consultation=today + datetime.timedelta(days=70),
        )
        departement, _ = Departement.objects.get_or_create(code="94", defaults={"nom": "Val-de-Marne"})
        commune, _ = Commune.objects.get_or_create(
            code_insee="94999", defaults={"nom": "Commune du banc d'essai", "departement": departement}
        )
        uais = []
        for n in range(SCHOOLS):
            digits = f"094{8000 + n:04d}"
            uais.append(digits + uai_check_letter(digits))
        Etablissement.objects.bulk_create(
            [
                Etablissement(
                    uai=uai, nom=f"Collège d'essai {i}", type="COLLEGE", departement=departement, commune=commune
                )
                for i, uai in enumerate(uais)
            ],
            ignore_conflicts=True,
        )
        schools = list(Etablissement.objects.filter(uai__in=uais).order_by("uai").values_list("pk", flat=True))
        discipline, _ = Discipline.objects.get_or_create(code="L1300", defaults={"libelle": "MATHEMATIQUES"})
        BMP.objects.bulk_create(
            [
                BMP(
                    campagne=campagne,
                    etablissement_id=schools[i % SCHOOLS],
                    discipline=discipline,
                    heures=6 + i % 7,
                    identifiant=f"BENCH-{i:06d}",
                )
                for i in range(PENDING)
            ],
            batch_size=10_000,
        )
        bmps = list(BMP.objects.filter(campagne=campagne).order_by("identifiant").values_list("pk", flat=True))
        Demande.objects.bulk_create(
            [
                Demande(
                    campagne=campagne,
                    bmp_id=bmps[i],
                    cible_id=bmps[(i + 1) % PENDING],
                    envoyee_le=now - datetime.timedelta(hours=1),
                    echeance=now + datetime.timedelta(hours=71),
                )
                for i in range(PENDING)
            ],
            batch_size=10_000,
        )
    print(f"Jeu d'essai : {SCHOOLS} établissements, {PENDING} BMP, {PENDING} demandes en attente.")


def reset(now, overdue):
    """All requests pending again, `overdue` of them past their deadline; no events."""
    from django.db import connection

    from jumelages.enums import EtatDemande

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE jumelages_evenement CASCADE")
        cursor.execute("TRUNCATE notifications_notification")
        cursor.execute(
            "UPDATE jumelages_demande SET etat = %s, terminee_le = NULL, envoyee_le = %s, echeance = %s",
            [EtatDemande.EN_ATTENTE, now - datetime.timedelta(hours=1), now + datetime.timedelta(hours=71)],
        )
        # spread over the table: one request in ten for 10,000
        cursor.execute(
            """UPDATE jumelages_demande SET envoyee_le = %s, echeance = %s
               WHERE id IN (SELECT id FROM jumelages_demande ORDER BY (id %% 10), id LIMIT %s)""",
            [now - datetime.timedelta(hours=80), now - datetime.timedelta(hours=8), overdue],
        )
        cursor.execute("VACUUM ANALYZE jumelages_demande")
        cursor.execute("VACUUM ANALYZE jumelages_evenement")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reseed", action="store_true", help="recréer le jeu d'essai")
    parser.add_argument("--recreate", action="store_true", help="supprimer et recréer la base (schéma modifié)")
    parser.add_argument("--runs", type=int, default=3, help="mesures de temps (la médiane est retenue)")
    parser.add_argument(
        "--without-receivers", action="store_true", help="sans les récepteurs du projet (boîte d'envoi des mails)"
    )
    args = parser.parse_args()
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/11")

    ensure_database(recreate=args.recreate)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from jumelages import services
    from jumelages.enums import EtatDemande
    from jumelages.models import Demande, Evenement
    from jumelages.signals import evenement_enregistre, evenements_enregistres

    call_command("migrate", verbosity=0)
    now = timezone.now()
    if args.reseed or Demande.objects.filter(campagne__annee=ANNEE).count() != PENDING:
        seed(now)

    from notifications.models import Notification

    if args.without_receivers:
        for signal in (evenement_enregistre, evenements_enregistres):
            signal.receivers = []
            signal.sender_receivers_cache.clear()
    announced = []
    evenements_enregistres.connect(lambda sender, evenements, **kw: announced.append(len(evenements)), weak=False)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    def cpu_seconds():
        """CPU time of this process and of its PostgreSQL backend (same host), whatever the load."""
        try:
            fields = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
            postgres = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            postgres = 0.0
        return time.process_time() + postgres

    def run(overdue, capture):
        reset(now, overdue)
        announced.clear()
        if capture:
            with CaptureQueriesContext(connection) as queries:
                expired = services.expire_overdue(now)
            elapsed, count = None, len(queries)
        else:
            start, cpu = time.perf_counter(), cpu_seconds()
            expired = services.expire_overdue(now)
            elapsed, count = (time.perf_counter() - start, cpu_seconds() - cpu), None
        assert expired == overdue, (expired, overdue)
        assert announced == [overdue], announced
        assert Evenement.objects.count() == overdue
        assert Demande.objects.filter(etat=EtatDemande.EXPIREE).count() == overdue
        if not args.without_receivers:  # one mail per school concerned: both ends of each request
            assert Notification.objects.count() == 2 * overdue, Notification.objects.count()
        assert services.expire_overdue(now) == 0  # idempotent
        return elapsed, count

    measures = [run(OVERDUE, capture=False)[0] for _ in range(args.runs)]
    times, cpus = [m[0] for m in measures], [m[1] for m in measures]
    _t, queries_10000 = run(OVERDUE, capture=True)
    (small_time, _cpu), queries_100 = run(100, capture=False)[0], run(100, capture=True)[1]
    median = statistics.median(times)
    print(f"expire_overdue, {PENDING} demandes en attente dont {OVERDUE} échues :")
    print(f"  temps : médiane {median:.3f} s sur {args.runs} mesures ({', '.join(f'{t:.3f}' for t in times)})")
    print(
        f"  temps CPU (Python + PostgreSQL, indépendant de la charge de la machine) : médiane "
        f"{statistics.median(cpus):.3f} s ; charge moyenne pendant la mesure : {os.getloadavg()[0]:.1f}"
    )
    print(f"  requêtes : {queries_10000} pour {OVERDUE} échues, {queries_100} pour 100 échues ({small_time:.3f} s)")
    print(f"  événements enregistrés et annoncés : {OVERDUE} en un seul signal evenements_enregistres")
    if not args.without_receivers:
        print(f"  mails mis en file (boîte d'envoi) : {2 * OVERDUE}, compris dans le temps et les requêtes")
    ok = median <= 2.0 and queries_10000 == queries_100
    print("  objectif (≤ 2 s, nombre de requêtes constant) :", "atteint" if ok else "NON ATTEINT")
    reset(now, 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
