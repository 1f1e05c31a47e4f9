"""Load test: the opening morning. 500 heads of schools log in, open « Mes BMP », search
partners, send requests and answer them, against gunicorn on PostgreSQL at national scale.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jumo_prod_bench .venv/bin/python bench/bench_load.py

The database named in DATABASE_URL is dropped and created again (its name must contain
"bench"), and filled as bench_pages.py does: 11,000 schools, 150,000 BMPs (through the nightly
refresh), 15,000 jumelages, 3,000 pending requests. Each of the 500 heads gets a school and a
free BMP of its own; heads go by pairs (same commune, same discipline): the first proposes a
jumelage to the second, who accepts it (four pairs in five) or refuses it with a motive.

Everything runs on this machine, on loopback: gunicorn (DEBUG off, production middleware), a
real Celery worker on the local Redis (its keys under a prefix of their own), an SMTP sink
(aiosmtpd) receiving the mails, and a small OpenID Connect provider (tests/sso/provider.py):
heads log in through ProConnect, as in production (no password hashing on JUMO's side). The
heads arrive evenly over --ramp seconds (300) and think 1 to 3 s between two clicks (the
answerers look at their requests every 3 to 6 s). Every loop
is bounded in count and time; the server, the worker and the provider are stopped at the end.

Printed: throughput, p50/p95/p99 latency per step and overall, errors. Then the database is
checked against what the clients were told: exactly the requests they were told were sent,
the jumelages they were told were made, the refusals; every event of the run mailed to each
school concerned exactly once (the SMTP sink got each outbox row's Message-ID once).
Targets: 0 errors, p95 ≤ 300 ms. Exit status 1 when a target or a check is missed.
"""

import argparse
import http.client
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_pages  # noqa: E402
import bench_refresh  # noqa: E402

HEADS = 500
TARGET_P95_MS = 300
CLIENT_ID = "jumo-bench"
CLIENT_SECRET = "secret-du-banc-d-essai-assez-long-pour-hs256"
BROKER = "redis://127.0.0.1:6379/0"
IDLE_SECONDS = 4.0
PREFIX = "jumo_prod_bench_load:"


# --- Data -------------------------------------------------------------------------------------------


def add_heads() -> list[dict]:
    """500 heads (accounts as create_account makes them) by pairs of schools of one commune, each
    with a free BMP of one discipline for the morning."""
    from django.contrib.auth import get_user_model

    from bmp.models import BMP, Campagne
    from establishments.models import Discipline, Etablissement, Profil

    campagne = Campagne.objects.get()
    maths = Discipline.objects.get(code="L1300")
    taken = set(Profil.etablissements.through.objects.values_list("etablissement_id", flat=True))
    by_commune = defaultdict(list)
    for pk, commune_id in Etablissement.objects.order_by("pk").values_list("pk", "commune_id"):
        if pk not in taken:
            by_commune[commune_id].append(pk)
    pairs = []
    for schools in by_commune.values():
        for first, second in zip(schools[0::2], schools[1::2], strict=False):
            pairs.append((first, second))
    pairs = pairs[: HEADS // 2]
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"chef.matin{n}@bench.test", email=f"chef.matin{n}@bench.test", last_name=str(n))
        for n in range(2 * len(pairs))
    )
    profils = Profil.objects.bulk_create(Profil(utilisateur=u) for u in users)
    schools = [s for pair in pairs for s in pair]
    Profil.etablissements.through.objects.bulk_create(
        Profil.etablissements.through(profil_id=p.pk, etablissement_id=s) for p, s in zip(profils, schools, strict=True)
    )
    bmps = BMP.objects.bulk_create(
        BMP(
            campagne=campagne,
            etablissement_id=s,
            discipline=maths,
            heures=Decimal("9"),
            identifiant=f"MATIN-{n:04d}",
        )
        for n, s in enumerate(schools)
    )
    return [
        {"email": u.email, "sub": f"sujet-{u.pk}", "bmp": b.pk, "school": s}
        for u, b, s in zip(users, bmps, schools, strict=True)
    ]


# --- One simulated head ------------------------------------------------------------------------------


class Browser:
    """Cookies, CSRF and redirects over one keep-alive connection to gunicorn; every request timed."""

    def __init__(self, port, provider, record):
        self.port = port
        self.provider = provider
        self.record = record
        self.cookies = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.last_used = time.monotonic()

    def request(self, step, method, path, data=None):
        headers = {"Host": "127.0.0.1"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            data = {**data, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        if time.monotonic() - self.last_used > IDLE_SECONDS:
            # gunicorn closes a keep-alive connection idle for 5 s (gunicorn.conf.py): like a
            # browser, open a new one rather than write on a socket the server has closed.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            content = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.record(step, (time.perf_counter() - started) * 1000, f"{method} {path}: {exc!r}")
            raise
        elapsed = (time.perf_counter() - started) * 1000
        self.last_used = time.monotonic()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value in ('""', ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        error = None if response.status in (200, 302, 303) else f"{method} {path} → {response.status}"
        self.record(step, elapsed, error)
        if error:
            raise RuntimeError(error)
        return response.status, response.headers.get("Location", ""), content

    def login(self, identity):
        """« S'identifier avec ProConnect »: our redirect, the provider's authorize, our callback."""
        _, location, _ = self.request("connexion", "GET", "/oidc/connexion/")
        authorize = urlsplit(location)
        conn = http.client.HTTPConnection(authorize.hostname, authorize.port, timeout=30)
        conn.request("GET", f"{authorize.path}?{authorize.query}&login_hint={identity['sub']}")
        back = conn.getresponse()
        back.read()
        conn.close()
        callback = urlsplit(back.headers["Location"])
        _, location, _ = self.request("connexion", "GET", f"{callback.path}?{callback.query}")
        if location != "/":
            raise RuntimeError(f"connexion refusée pour {identity['email']} ({location})")


def proposer(browser, me, partner, told, think):
    browser.request("mes_bmp", "GET", "/")
    think()
    browser.request("partenaires", "GET", f"/bmp/{me['bmp']}/partenaires/")
    think()
    browser.request("proposer", "GET", f"/bmp/{me['bmp']}/proposer/{partner['bmp']}/")
    _, location, _ = browser.request("proposer", "POST", f"/bmp/{me['bmp']}/proposer/{partner['bmp']}/", {})
    match = re.fullmatch(r"/demandes/(\d+)/", location)
    if not match:
        raise RuntimeError(f"demande non envoyée ({location})")
    demande = int(match.group(1))
    browser.request("demande", "GET", location)
    told["envoyees"].add(demande)
    return demande


def answerer(browser, me, partner, refuse, told, think, deadline):
    browser.request("mes_bmp", "GET", "/")
    demande = None
    while demande is None and time.monotonic() < deadline:
        think(3.0, 6.0)
        _, _, page = browser.request("demandes", "GET", "/demandes/")
        for pk in map(int, re.findall(r'href="/demandes/(\d+)/"', page)):
            if pk in told["recues_attendues"].get(me["bmp"], set()):
                demande = pk
                break
    if demande is None:
        raise RuntimeError(f"{me['email']} n'a jamais vu la demande de son partenaire")
    browser.request("demande", "GET", f"/demandes/{demande}/")
    think()
    if refuse:
        _, location, _ = browser.request(
            "repondre",
            "POST",
            f"/demandes/{demande}/refuser/",
            {"motif": "quotite_inadaptee", "commentaire": ""},
        )
        if location != f"/demandes/{demande}/":
            raise RuntimeError(f"refus non confirmé ({location})")
        told["refusees"].add(demande)
    else:
        _, location, _ = browser.request("repondre", "POST", f"/demandes/{demande}/accepter/", {})
        match = re.fullmatch(r"/jumelages/(\d+)/", location)
        if not match:
            raise RuntimeError(f"acceptation non confirmée ({location})")
        told["jumelages"][demande] = int(match.group(1))
        browser.request("jumelage", "GET", location)


# --- Servers ------------------------------------------------------------------------------------------


def start_worker(env) -> subprocess.Popen:
    log = open(bench_refresh.OUT / "celery-load.log", "w")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "jumo", "worker", "--pool=solo", "--loglevel=WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def start_server(port: int, workers: int) -> subprocess.Popen:
    """gunicorn as deployed (gunicorn.conf.py: gthread workers), on loopback."""
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "false",
    }
    log = open(bench_refresh.OUT / "gunicorn-load.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "jumo.wsgi:application", "--config", "gunicorn.conf.py",
         "--access-logfile", "/dev/null"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit("gunicorn n'a pas démarré : voir bench/out/gunicorn-load.log")


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def forget_broker_keys():
    import redis

    client = redis.Redis.from_url(BROKER)
    for key in client.scan_iter(match=f"{PREFIX}*", count=1000):
        client.delete(key)


def percentile(values, share):
    return values[min(len(values) - 1, int(len(values) * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heads", type=int, default=HEADS, help="chefs d'établissement simulés (pair, ≤ 500)")
    parser.add_argument("--ramp", type=float, default=300.0, help="arrivées étalées sur ces secondes (≤ 900)")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1), help="processus gunicorn")
    parser.add_argument("--reuse", action="store_true", help="garder la base déjà générée (comptes compris)")
    args = parser.parse_args()
    heads_wanted = min(max(2, args.heads - args.heads % 2), HEADS)
    ramp = min(max(args.ramp, 1.0), 900.0)
    url = bench_refresh.database_url()
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_load_settings"
    if not args.reuse:
        print(f"Base {urlsplit(url).path.lstrip('/')} recréée ; génération…")
        bench_refresh.recreate_database(url)
    import django

    django.setup()
    if not args.reuse:
        started = time.perf_counter()
        bench_pages.generate()
        heads = add_heads()
        (bench_refresh.OUT / "heads.txt").write_text(
            "\n".join(f"{h['email']} {h['sub']} {h['bmp']} {h['school']}" for h in heads) + "\n"
        )
        print(f"Génération : {time.perf_counter() - started:.0f} s.")
    heads = [
        dict(zip(("email", "sub", "bmp", "school"), line.split(" "), strict=True))
        for line in (bench_refresh.OUT / "heads.txt").read_text().splitlines()
    ][:heads_wanted]
    for h in heads:
        h["bmp"], h["school"] = int(h["bmp"]), int(h["school"])
    from django.db import connections

    from jumelages.models import Demande, Evenement, Jumelage
    from notifications.enums import StatutEnvoi
    from notifications.models import Notification
    from tests.sso.provider import Provider

    connections.close_all()

    # The SSO provider: each person is named by login_hint at the provider.
    provider = Provider(CLIENT_ID, CLIENT_SECRET)
    provider.identities = {
        h["sub"]: {"sub": h["sub"], "email": h["email"], "given_name": "Chef", "usual_name": "Essai"} for h in heads
    }
    provider.start()

    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    logging.getLogger("axes").setLevel(logging.WARNING)

    received = Counter()

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            match = re.search(rb"^Message-ID:\s*(\S+)", envelope.content, re.M | re.I)
            received[match.group(1).decode() if match else "?"] += 1
            return "250 OK"

    smtp_port = bench_pages.free_port()
    smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    forget_broker_keys()
    env = {
        "OIDC_RP_CLIENT_ID": CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_OP_DISCOVERY_URL": provider.discovery_url,
        "CELERY_BROKER_URL": BROKER,
        "CACHE_URL": bench_pages.CACHE_URL,  # sessions read from Redis, as in production
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "DJANGO_SETTINGS_MODULE": "bench_load_settings",
        "PYTHONPATH": f"{ROOT / 'bench'}{os.pathsep}{ROOT}",
    }
    os.environ.update(env)
    port = bench_pages.free_port()
    worker = start_worker({**os.environ})
    server = start_server(port, args.workers)

    latencies = defaultdict(list)
    errors = []
    lock = threading.Lock()

    def record(step, ms, error):
        with lock:
            latencies[step].append(ms)
            if error:
                errors.append(error)

    told = {"envoyees": set(), "refusees": set(), "jumelages": {}, "recues_attendues": {}}
    start_mark = time.time()
    deadline = time.monotonic() + ramp + 300  # every head is done by then, whatever happens
    rng = random.Random(2025)
    plan = []
    for k in range(len(heads) // 2):
        plan.append((heads[2 * k], heads[2 * k + 1], k % 5 == 4))

    def head(me, partner, role, refuse, delay, seed):
        local = random.Random(seed)

        def think(low=1.0, high=3.0):
            time.sleep(local.uniform(low, high))

        time.sleep(delay)
        browser = Browser(port, provider, record)
        try:
            browser.login(me)
            if role == "proposer":
                demande = proposer(browser, me, partner, told, think)
                with lock:
                    told["recues_attendues"].setdefault(partner["bmp"], set()).add(demande)
            else:
                answerer(browser, me, partner, refuse, told, think, deadline)
        except Exception as exc:  # counted, never fatal to the run
            with lock:
                if not any(str(exc) in e for e in errors):
                    errors.append(f"{me['email']}: {exc}")
        finally:
            browser.conn.close()

    threads = []
    for n, (first, second, refuse) in enumerate(plan):
        delay = ramp * n / max(1, len(plan))
        threads.append(threading.Thread(target=head, args=(first, second, "proposer", refuse, delay, rng.random())))
        threads.append(threading.Thread(target=head, args=(second, first, "answerer", refuse, delay, rng.random())))
    wall_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(1.0, deadline - time.monotonic()))
        wall = time.perf_counter() - wall_start
        load_after = os.getloadavg()
        # The mails: the worker sends them; wait (bounded) until the outbox of the run is empty.
        drain_deadline = time.monotonic() + 180
        run_rows = Notification.objects.filter(cree_le__gte=_aware(start_mark))
        while time.monotonic() < drain_deadline and run_rows.exclude(statut=StatutEnvoi.ENVOYE).exists():
            time.sleep(1)
    finally:
        stop(server)
        stop(worker)
        smtp.stop()
        provider.stop()
        forget_broker_keys()

    # --- Figures ---
    everything = sorted(ms for values in latencies.values() for ms in values)
    print(
        f"\n{len(heads)} chefs d'établissement, arrivées étalées sur {ramp:g} s, gunicorn {args.workers} processus, "
        f"{os.cpu_count()} cœurs (clients, serveur, worker, PostgreSQL, fournisseur OIDC sur la même machine)\n"
    )
    print(f"{'étape':<14}{'requêtes':>9}{'p50 (ms)':>10}{'p95 (ms)':>10}{'p99 (ms)':>10}")
    for step in ("connexion", "mes_bmp", "partenaires", "proposer", "demandes", "demande", "repondre", "jumelage"):
        values = sorted(latencies.get(step, []))
        if values:
            print(
                f"{step:<14}{len(values):>9}{statistics.median(values):>10.1f}"
                f"{percentile(values, 0.95):>10.1f}{percentile(values, 0.99):>10.1f}"
            )
    p95 = percentile(everything, 0.95) if everything else float("inf")
    print(
        f"{'toutes':<14}{len(everything):>9}{statistics.median(everything):>10.1f}{p95:>10.1f}"
        f"{percentile(everything, 0.99):>10.1f}"
    )
    print(f"\nDébit : {len(everything) / wall:.1f} requêtes/s sur {wall:.0f} s ; erreurs : {len(errors)}")
    print(
        f"Charge de la machine (load average) : {load_before:.1f} au départ, {load_after[1]:.1f} en moyenne "
        "sur les 5 dernières minutes du run (2 cœurs ; d'autres suites de tests peuvent tourner à côté)."
    )
    for error in errors[:10]:
        print(f"  - {error}")

    # --- What the database holds against what the clients were told ---
    failures = []
    since = _aware(start_mark)
    sent = set(Demande.objects.filter(envoyee_le__gte=since).values_list("pk", flat=True))
    made = dict(Demande.objects.filter(pk__in=sent, etat="acceptee").values_list("pk", "jumelage_id"))
    refused = set(Demande.objects.filter(pk__in=sent, etat="refusee").values_list("pk", flat=True))
    new_jumelages = set(Jumelage.objects.filter(cree_le__gte=since).values_list("pk", flat=True))
    if sent != told["envoyees"]:
        failures.append(f"demandes : {len(sent)} en base, {len(told['envoyees'])} annoncées")
    if made != told["jumelages"] or new_jumelages != set(told["jumelages"].values()):
        failures.append(f"jumelages : {len(new_jumelages)} en base, {len(told['jumelages'])} annoncés")
    if refused != told["refusees"]:
        failures.append(f"refus : {len(refused)} en base, {len(told['refusees'])} annoncés")
    events = Counter(Evenement.objects.filter(date__gte=since).values_list("type", flat=True))
    expected_events = Counter(
        {"demande_envoyee": len(told["envoyees"]), "demande_acceptee": len(told["jumelages"]),
         "demande_refusee": len(told["refusees"])}
    )  # fmt: skip
    if +events != +expected_events:
        failures.append(f"événements : {dict(events)} au lieu de {dict(expected_events)}")
    rows = list(run_rows.values_list("message_id", "statut", "evenement__type", "etablissement_id"))
    schools_per_event = Counter(r[2] for r in rows)
    if any(statut != StatutEnvoi.ENVOYE for _, statut, _, _ in rows):
        failures.append("des mails de la matinée ne sont pas partis")
    if Counter(r[0] for r in rows) != received:
        extra = sum((received - Counter(r[0] for r in rows)).values())
        missing = sum((Counter(r[0] for r in rows) - received).values())
        failures.append(f"mails : {missing} attendus non reçus, {extra} reçus en trop ou en double")
    # Each operation is mailed to the two schools of its pair.
    if schools_per_event != Counter({t: 2 * n for t, n in expected_events.items() if n}):
        failures.append(f"destinataires : {dict(schools_per_event)}")
    print(
        f"\nBase : {len(sent)} demandes envoyées, {len(made)} jumelages constitués, {len(refused)} refus ; "
        f"{len(rows)} mails dans la file, {sum(received.values())} reçus par le serveur SMTP."
    )
    if errors:
        failures.append(f"{len(errors)} erreurs")
    if p95 > TARGET_P95_MS:
        failures.append(f"p95 {p95:.0f} ms > {TARGET_P95_MS} ms")
    if failures:
        print("\nObjectifs manqués :\n- " + "\n- ".join(failures))
        sys.exit(1)
    print("\nObjectifs atteints : 0 erreur, p95 ≤ 300 ms ; la base et les boîtes aux lettres sont exactement "
          "ce que les clients ont vu.")  # fmt: skip


def _aware(epoch: float):
    import datetime

    return datetime.datetime.fromtimestamp(epoch, datetime.UTC)


if __name__ == "__main__":
    main()
