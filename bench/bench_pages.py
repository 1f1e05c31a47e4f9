"""Benchmark of the heads' pages at national scale, behind gunicorn, on loopback.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jumo_pages_bench .venv/bin/python bench/bench_pages.py

The database named in DATABASE_URL is dropped and created again, then migrated: its name must
contain "bench" (--reuse keeps it). It gets 11,000 schools with coordinates (made up for the
benchmark) over 300 communes and 30 zones de remplacement, the 16 disciplines, an open campaign and
150,000 BMPs loaded by the nightly refresh (bmp.services.refresh_bmps, as bench_refresh.py does),
15,000 jumelages of two BMPs, 3,000 pending requests and 200 heads of schools. Their sessions are
made again at every run (a session idle for 30 minutes ends).

gunicorn (sync workers, DEBUG off, persistent connections) then serves JUMO on 127.0.0.1 with a
trivial view added (bench/bench_urls.py). For each page: first one client alone (the latency of a
request on its own), then 20 concurrent clients with no think time, for a fixed time: « Mes BMP »
of a random head, « Trouver un partenaire » for a random BMP of his (default sort by distance),
and the trivial view. The clients are a few processes of asyncio connections (HTTP/1.1, a
connection per request as sync workers close them), cheap beside the server on the same cores.
Printed: p50 and p95 latency, throughput and its ratio to the trivial view of the same run, and
the CPU time the server spent per request (gunicorn's workers and their PostgreSQL backends, read
from /proc): the figure that the other processes of the machine do not change. Targets: p95 ≤
150 ms (Mes BMP) and ≤ 250 ms (Trouver un partenaire). Exit status 1 when a target is missed.
Every request goes to 127.0.0.1; every loop is bounded in time; the server is stopped at the end.
"""

import argparse
import asyncio
import datetime
import multiprocessing
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_refresh  # noqa: E402  (the same generation of schools' UAIs and of the refresh file)

SCHOOLS = 11_000
ROWS = 150_000
COMMUNES = 300
ZONES = 30
JUMELAGES = 15_000
DEMANDES = 3_000
HEADS = 200
CLIENTS = 20
CLIENT_PROCESSES = 4  # CLIENTS connections spread over these processes (one asyncio loop each)
SINGLE_REQUESTS = 40  # requests of the lone client, per page
TARGETS_MS = {"mes_bmp": 150, "partenaires": 250}


def generate() -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from bmp.models import BMP, Campagne
    from bmp.services import refresh_bmps
    from establishments.enums import Position, TypeEtablissement
    from establishments.models import Commune, Departement, Discipline, Etablissement, Profil, ZoneRemplacement
    from establishments.uai import uai_check_letter
    from jumelages.models import Demande, Jumelage, JumelageBMP

    call_command("migrate", verbosity=0)
    rng = random.Random(2025)
    departements = {d.code: d for d in Departement.objects.all()}
    communes = Commune.objects.bulk_create(
        Commune(
            code_insee=f"{code}{n:03d}",
            nom=f"Commune d'essai {code}-{n}",
            departement=departements[code],
            latitude=48.3 + rng.random() * 0.8,
            longitude=1.8 + rng.random() * 1.4,
        )
        for n in range(COMMUNES // 3)
        for code in ("77", "93", "94")
    )
    zones = ZoneRemplacement.objects.bulk_create(
        ZoneRemplacement(code=f"Z{n:02d}", libelle=f"Zone d'essai {n}") for n in range(ZONES)
    )
    through = ZoneRemplacement.communes.through
    through.objects.bulk_create(
        through(zoneremplacement_id=zones[i % ZONES].pk, commune_id=c.pk) for i, c in enumerate(communes)
    )
    schools = []
    for n in range(SCHOOLS):
        commune = communes[n % len(communes)]
        digits = f"0{commune.departement.code}{n // 3 + 1:04d}"
        exact = n % 10 != 0
        schools.append(
            Etablissement(
                uai=digits + uai_check_letter(digits),
                nom=f"Établissement d'essai {n}",
                type=TypeEtablissement.COLLEGE,
                departement_id=commune.departement_id,
                commune=commune,
                latitude=commune.latitude + (rng.random() - 0.5) * 0.05 if exact else commune.latitude,
                longitude=commune.longitude + (rng.random() - 0.5) * 0.05 if exact else commune.longitude,
                position=Position.EXACTE if exact else Position.APPROXIMATIVE,
            )
        )
    Etablissement.objects.bulk_create(schools, batch_size=2000)
    uais = [s.uai for s in schools]

    import csv

    with open(ROOT / "fixtures" / "disciplines_de_poste.csv", encoding="utf-8") as handle:
        disciplines = [
            (row["code"], row["libelle"], int(row["heures_temps_plein"]))
            for row in csv.DictReader(handle, delimiter=";")
        ]
    for code, libelle, hours in disciplines:
        Discipline.objects.get_or_create(code=code, defaults={"libelle": libelle, "heures_temps_plein": hours})
    today = timezone.localdate()
    campagne = Campagne.objects.create(
        annee=today.year + 1,
        date_ouverture=today - datetime.timedelta(days=3),
        date_cloture=today + datetime.timedelta(days=5),
        date_fin_validation=today + datetime.timedelta(days=7),
        date_debut_consultation=today + datetime.timedelta(days=10),
        date_fin_consultation=today + datetime.timedelta(days=60),
    )
    rows = [
        (f"BMP-P-{i:06d}", rng.choice(uais), *rng.choice(disciplines)[:2], rng.choice(bench_refresh.HOURS))
        for i in range(1, ROWS + 1)
    ]
    path = bench_refresh.OUT / "bmp_pages.csv"
    bench_refresh.write_file(path, rows)
    refresh_bmps(campagne, path.read_bytes(), filename=path.name, started_by="banc d'essai des pages")

    bmps = list(BMP.objects.filter(campagne=campagne).values_list("pk", "etablissement_id", "discipline_id", "heures"))
    rng.shuffle(bmps)
    by_discipline = {}
    for bmp in bmps:
        by_discipline.setdefault(bmp[2], []).append(bmp)
    now = timezone.now()
    pairs, used = [], set()
    for group in by_discipline.values():
        quota = JUMELAGES * len(group) // len(bmps) + 1
        taken = 0
        for first, second in zip(group[0::2], group[1::2], strict=False):
            if taken >= quota:
                break
            if first[1] != second[1]:
                pairs.append((first, second))
                used |= {first[0], second[0]}
                taken += 1
    with transaction.atomic():
        jumelages = Jumelage.objects.bulk_create(
            Jumelage(
                campagne=campagne,
                discipline_id=first[2],
                origine="service",
                rattachement_id=max(first, second, key=lambda b: b[3])[1],
                total_heures=first[3] + second[3],
                cree_le=now,
            )
            for first, second in pairs
        )
        JumelageBMP.objects.bulk_create(
            JumelageBMP(jumelage=j, bmp_id=b[0], etablissement_id=b[1], position=p, ajoute_le=now)
            for j, pair in zip(jumelages, pairs, strict=True)
            for p, b in enumerate(pair, start=1)
        )
        free = [b for b in bmps if b[0] not in used]
        demandes = []
        for first, second in zip(free[0::2], free[1::2], strict=False):
            if len(demandes) >= DEMANDES:
                break
            if first[2] == second[2] and first[1] != second[1]:
                demandes.append(
                    Demande(
                        campagne=campagne,
                        bmp_id=first[0],
                        cible_id=second[0],
                        envoyee_le=now,
                        echeance=now + datetime.timedelta(hours=72),
                    )
                )
        Demande.objects.bulk_create(demandes)

    user_model = get_user_model()
    with_bmps = sorted({b[1] for b in bmps})
    for n, etablissement_id in enumerate(rng.sample(with_bmps, HEADS)):
        user = user_model.objects.create(username=f"chef{n}@bench.test", first_name="Chef", last_name=str(n))
        profil = Profil.objects.create(utilisateur=user)
        profil.etablissements.add(etablissement_id)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"{Etablissement.objects.count():,} établissements, {BMP.objects.count():,} BMP, "
        f"{Jumelage.objects.count():,} jumelages, {Demande.objects.count():,} demandes, {HEADS} chefs d'établissement."
    )


# A Redis database of the benchmarks' own (flushed at the start of a run).
CACHE_URL = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/13")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_sessions(url: str) -> list[tuple[str, list[int]]]:
    """A new session for each head (the older ones are deleted), as a login would make it; and the
    BMPs of his school in the campaign."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    from bmp.models import BMP
    from common.security import SESSION_DEBUT, SESSION_VU

    Session.objects.all().delete()
    import redis

    if CACHE_URL.startswith("redis"):
        redis.Redis.from_url(CACHE_URL).flushdb()  # the server's cached sessions of an earlier run
    sessions = []
    now = time.time()
    for user in (
        get_user_model().objects.filter(username__endswith="@bench.test").prefetch_related("profil__etablissements")
    ):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session[SESSION_DEBUT] = session[SESSION_VU] = now
        session.create()
        schools = [e.pk for e in user.profil.etablissements.all()]
        mine = list(
            BMP.objects.filter(etablissement_id__in=schools, actif=True).order_by("pk").values_list("pk", flat=True)
        )
        sessions.append((session.session_key, mine))
    return sessions


def start_server(port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": f"{ROOT / 'bench'}{os.pathsep}{ROOT}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "false",
        # Persistent connections for the whole run (production: 60 s), so that the CPU time of their
        # PostgreSQL backends is counted and no request pays for a new connection.
        "CONN_MAX_AGE": "3600",
        # Sessions read from Redis, as in production (CACHE_URL in docker-compose.yml).
        "CACHE_URL": CACHE_URL,
        "LOG_LEVEL": "WARNING",
    }
    log = open(bench_refresh.OUT / "gunicorn.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "jumo.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            # gunicorn.conf.py (read from the working directory) sets threads and recycles workers
            # every 2,000 requests: sync workers, never recycled during the run, here.
            "--worker-class",
            "sync",
            "--threads",
            "1",
            "--max-requests",
            "0",
            "--backlog",
            "256",
            "--access-logfile",
            "/dev/null",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit("gunicorn n'a pas démarré : voir bench/out/gunicorn.log")


def path_for(page: str, rng: random.Random, bmps: list[int]) -> str:
    if page == "trivial":
        return "/bench/trivial/"
    if page == "mes_bmp":
        return "/"
    return f"/bmp/{rng.choice(bmps)}/partenaires/"


async def fetch(port: int, path: str, session: str) -> int:
    """One GET on a new connection (sync workers close it after the response); the status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid={session}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = None
        for line in head.split(b"\r\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length is None:
            await reader.read()
        else:
            await reader.readexactly(length)
        return status
    finally:
        writer.close()


def client_process(port: int, page: str, seconds: float, clients: int, seed: int, sessions, queue) -> None:
    """`clients` concurrent closed-loop clients for `seconds`; puts (latencies in ms, errors)."""

    async def client(n: int, stop: float, latencies: list, errors: list) -> None:
        rng = random.Random(seed * 1000 + n)
        while time.monotonic() < stop:
            session, bmps = rng.choice(sessions)
            path = path_for(page, rng, bmps)
            started = time.perf_counter()
            try:
                status = await asyncio.wait_for(fetch(port, path, session), timeout=30)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors.append(f"{path} → {exc!r}")
                continue
            if status == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors.append(f"{path} → {status}")

    async def run() -> tuple[list, list]:
        latencies, errors = [], []
        stop = time.monotonic() + seconds
        await asyncio.gather(*(client(n, stop, latencies, errors) for n in range(clients)))
        return latencies, errors

    queue.put(asyncio.run(run()))


def cpu_seconds(pids) -> float:
    """User and system CPU time of these processes (/proc/<pid>/stat), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def client_cpu_seconds() -> float:
    """CPU time of the finished child processes: the load's clients (the server runs until the end)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def server_pids(server: subprocess.Popen, url: str) -> list[int]:
    """gunicorn's workers and the PostgreSQL backends connected to the benchmark's database."""
    import psycopg

    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(url, autocommit=True) as conn:
        backends = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
            )
        ]
    return [int(pid) for pid in children] + backends


def run_load(port: int, page: str, seconds: float, sessions, clients: int = CLIENTS) -> dict:
    """`clients` closed-loop clients spread over CLIENT_PROCESSES processes, for `seconds`."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = min(CLIENT_PROCESSES, clients)
    shares = [clients // processes + (1 if n < clients % processes else 0) for n in range(processes)]
    workers = [
        context.Process(target=client_process, args=(port, page, seconds, share, n, sessions, queue))
        for n, share in enumerate(shares)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    latencies, errors = [], []
    for _ in workers:
        got_latencies, got_errors = queue.get(timeout=seconds + 60)
        latencies += got_latencies
        errors += got_errors
    wall = time.perf_counter() - started
    for worker in workers:
        worker.join(timeout=10)
    return summary(latencies, errors, wall)


def run_alone(port: int, page: str, sessions, count: int = SINGLE_REQUESTS) -> dict:
    """One client, one request at a time: the latency of a request on its own."""
    rng = random.Random(7)
    latencies, errors = [], []
    started = time.perf_counter()
    for _ in range(count):
        session, bmps = rng.choice(sessions)
        path = path_for(page, rng, bmps)
        begin = time.perf_counter()
        status = asyncio.run(fetch(port, path, session))
        if status == 200:
            latencies.append((time.perf_counter() - begin) * 1000)
        else:
            errors.append(f"{path} → {status}")
    return summary(latencies, errors, time.perf_counter() - started)


def summary(latencies: list, errors: list, wall: float) -> dict:
    latencies.sort()
    if not latencies:
        return {"n": 0, "errors": errors}
    return {
        "n": len(latencies),
        "p50": statistics.median(latencies),
        "p95": latencies[max(0, int(len(latencies) * 0.95) - 1)],
        "rps": len(latencies) / wall,
        "errors": errors,
    }


LABELS = {"trivial": "vue triviale", "mes_bmp": "Mes BMP", "partenaires": "Trouver un partenaire"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="durée de chaque mesure (défaut 20 s, max 120)")
    parser.add_argument("--workers", type=int, default=3, help="processus gunicorn (synchrones), 2 à 4 (défaut 3)")
    parser.add_argument("--reuse", action="store_true", help="garder la base déjà générée")
    args = parser.parse_args()
    seconds = min(max(args.seconds, 2.0), 120.0)
    workers = min(max(args.workers, 1), 8)
    url = bench_refresh.database_url()
    os.environ["DATABASE_URL"] = url
    if not args.reuse:
        print(f"Base {urlsplit(url).path.lstrip('/')} recréée ; génération…")
        bench_refresh.recreate_database(url)
    bench_refresh.setup_django()
    if not args.reuse:
        started = time.perf_counter()
        generate()
        print(f"Génération : {time.perf_counter() - started:.0f} s.")
    else:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)  # a kept database gets the indexes added since
    sessions = make_sessions(url)
    from django.db import connections

    connections.close_all()

    port = free_port()
    server = start_server(port, workers)
    failures, results, alone, cpu, client_cpu = [], {}, {}, {}, {}
    try:
        for page in LABELS:  # warm-up: every worker loads its code, templates and statements
            run_load(port, page, 3, sessions, clients=2 * workers)
        for page in LABELS:
            alone[page] = run_alone(port, page, sessions)
        for page in LABELS:
            pids = server_pids(server, url)
            before, clients_before = cpu_seconds(pids), client_cpu_seconds()
            results[page] = run_load(port, page, seconds, sessions)
            served = results[page]["n"] + len(results[page]["errors"])
            cpu[page] = (cpu_seconds(pids) - before) * 1000 / served if served else 0.0
            client_cpu[page] = (client_cpu_seconds() - clients_before) * 1000 / served if served else 0.0
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    trivial = results["trivial"]
    load = os.getloadavg()[0]
    print(
        f"\n{CLIENTS} clients simultanés ({CLIENT_PROCESSES} processus), {seconds:g} s par page, gunicorn "
        f"{workers} processus synchrones, {os.cpu_count()} cœurs (clients, serveur et PostgreSQL sur la même "
        f"machine), charge moyenne {load:.1f}\n"
    )
    print(
        f"{'page':<22}{'seul p50':>9}{'seul p95':>9}{'requêtes':>9}{'p50 (ms)':>10}{'p95 (ms)':>10}"
        f"{'req/s':>8}{'÷ triviale':>11}{'CPU/req':>9}{'clients':>9}"
    )
    for page, label in LABELS.items():
        r, a = results[page], alone[page]
        if r["n"] == 0 or a["n"] == 0:
            failures.append(f"{label} : aucune réponse 200 ({(r['errors'] + a['errors'])[:3]})")
            continue
        ratio = r["rps"] / trivial["rps"] if trivial.get("rps") else 0
        print(
            f"{label:<22}{a['p50']:>9.1f}{a['p95']:>9.1f}{r['n']:>9}{r['p50']:>10.1f}{r['p95']:>10.1f}"
            f"{r['rps']:>8.1f}{ratio:>11.2f}{cpu[page]:>7.1f}ms{client_cpu[page]:>7.1f}ms"
        )
        if erreurs := r["errors"] + a["errors"]:
            failures.append(f"{label} : {len(erreurs)} erreurs, ex. {erreurs[:3]}")
        if page in TARGETS_MS and r["p95"] > TARGETS_MS[page]:
            failures.append(f"{label} : p95 {r['p95']:.0f} ms > {TARGETS_MS[page]} ms")
    print(
        "\n« seul » : un client, une requête à la fois ; CPU/req : temps CPU des processus gunicorn et de "
        "leurs connexions PostgreSQL, par requête servie sous charge ; clients : celui des processus clients."
    )
    if failures:
        print("\nObjectifs manqués :\n- " + "\n- ".join(failures))
        sys.exit(1)
    print("\nObjectifs atteints : p95 Mes BMP ≤ 150 ms, p95 Trouver un partenaire ≤ 250 ms.")


if __name__ == "__main__":
    main()
