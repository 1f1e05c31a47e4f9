"""Benchmark of the nightly BMP refresh (bmp.services.refresh_bmps) at the académie's scale.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jumo_bench .venv/bin/python bench/bench_refresh.py

The database named in DATABASE_URL is dropped and created again, then migrated: its name must
contain "bench" so that a wrong URL cannot wipe real data. 11,000 schools with valid UAIs
(generated here, for the benchmark only) and 150,000 BMP rows over them and the 16 disciplines
of fixtures/disciplines_de_poste.csv are generated; then, each in a fresh child process so that
its peak resident memory (ru_maxrss) is its own:

  (a) first import into an empty campaign,
  (b) the same file again (nothing changes),
  (c) a file with 5 % of the rows' hours changed and 1 % of the rows removed.

A raw COPY of the same file into a bare table without index (the physical limit) is timed too,
and the ratio first import / COPY printed. Targets: each run ≤ 10 s, peak RSS ≤ 400 MB,
first import ≤ 25 × COPY. The generated files are written to bench/out/ (ignored by git).
"""

import argparse
import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SCHOOLS = 11_000
ROWS = 150_000
CHANGED_SHARE = 0.05
REMOVED_SHARE = 0.01
ANNEE = 2025
TARGET_SECONDS = 10.0
TARGET_MB = 400
TARGET_RATIO = 25.0
HOURS = [f"{h / 2:g}".replace(".", ",") for h in range(2, 37)]  # 1 to 18 h, by half hours
SCENARIOS = {
    "a": ("première importation (campagne vide)", "bmp_full.csv"),
    "b": ("même fichier une seconde fois", "bmp_full.csv"),
    "c": ("5 % d'heures modifiées, 1 % de lignes retirées", "bmp_changed.csv"),
}


def setup_django():
    sys.path.insert(0, str(ROOT))
    # DEBUG off, as in production: no query log.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jumo.settings.base")
    import django

    django.setup()


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("DATABASE_URL doit désigner une base PostgreSQL, ex. postgres://postgres@127.0.0.1:5432/jumo_bench")
    if "bench" not in parts.path:
        sys.exit(f"Par sécurité, le nom de la base doit contenir « bench » (elle est recréée) : {parts.path!r}.")
    return url


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def generate() -> None:
    """Reference data in the database, and the two files."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from bmp.models import Campagne
    from establishments.enums import Position, TypeEtablissement
    from establishments.models import Commune, Departement, Discipline, Etablissement
    from establishments.uai import uai_check_letter

    rng = random.Random(2025)
    communes = {}
    for departement in Departement.objects.all():
        communes[departement.code], _ = Commune.objects.get_or_create(
            code_insee=f"{departement.code}999",
            defaults={"nom": f"Commune de banc d'essai {departement.code}", "departement": departement},
        )
    uais = []
    schools = []
    for n in range(SCHOOLS):
        departement = ("77", "93", "94")[n % 3]
        digits = f"0{departement}{n // 3 + 1:04d}"
        uai = digits + uai_check_letter(digits)
        uais.append(uai)
        commune = communes[departement]
        schools.append(
            Etablissement(
                uai=uai,
                nom=f"Établissement de banc d'essai {n}",
                type=TypeEtablissement.COLLEGE,
                departement_id=commune.departement_id,
                commune=commune,
                position=Position.INCONNUE,
            )
        )
    Etablissement.objects.bulk_create(schools, batch_size=2000)

    with open(ROOT / "fixtures" / "disciplines_de_poste.csv", encoding="utf-8") as handle:
        disciplines = [
            (row["code"], row["libelle"], int(row["heures_temps_plein"]))
            for row in csv.DictReader(handle, delimiter=";")
        ]
    for code, libelle, hours in disciplines:
        Discipline.objects.get_or_create(code=code, defaults={"libelle": libelle, "heures_temps_plein": hours})
    Campagne.objects.get_or_create(annee=ANNEE, defaults=Campagne.default_calendar(ANNEE))

    rows = [
        (f"BMP-{ANNEE % 100}-{i:06d}", rng.choice(uais), *rng.choice(disciplines)[:2], rng.choice(HOURS))
        for i in range(1, ROWS + 1)
    ]
    write_file(OUT / "bmp_full.csv", rows)
    removed = set(rng.sample(range(ROWS), int(ROWS * REMOVED_SHARE)))
    kept = [row for i, row in enumerate(rows) if i not in removed]
    for i in rng.sample(range(len(kept)), int(ROWS * CHANGED_SHARE)):
        identifiant, uai, code, libelle, hours = kept[i]
        kept[i] = (identifiant, uai, code, libelle, rng.choice([h for h in HOURS if h != hours]))
    write_file(OUT / "bmp_changed.csv", kept)


def write_file(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("identifiant;uai;discipline;libelle_discipline;heures\r\n")
        handle.writelines(";".join(row) + "\r\n" for row in rows)


def raw_copy(url: str, path: Path, repeat: int = 3) -> list[float]:
    """COPY the file as is into a bare table without index or constraint: the physical limit."""
    import psycopg

    data = path.read_bytes()
    timings = []
    with psycopg.connect(url) as conn:
        for _ in range(repeat):
            conn.execute("DROP TABLE IF EXISTS bench_raw_copy")
            conn.execute(
                "CREATE TABLE bench_raw_copy (identifiant text, uai text, discipline text, "
                "libelle_discipline text, heures text)"
            )
            conn.commit()
            started = time.perf_counter()
            with conn.cursor() as cursor:
                with cursor.copy("COPY bench_raw_copy FROM STDIN (FORMAT csv, HEADER true, DELIMITER ';')") as copy:
                    copy.write(data)
            conn.commit()
            timings.append(time.perf_counter() - started)
        conn.execute("DROP TABLE bench_raw_copy")
        conn.commit()
    return timings


def run_scenario(name: str) -> None:
    """Child process: one refresh, then its figures as one JSON line."""
    process_started = time.perf_counter()
    setup_django()
    from bmp.models import Campagne
    from bmp.services import refresh_bmps
    from bmp.signals import bmps_refreshed

    # The receivers (the workflow's effects, another app) are part of the run; timed apart.
    receivers_seconds = 0.0
    send = bmps_refreshed.send

    def timed_send(*args, **kwargs):
        nonlocal receivers_seconds
        started = time.perf_counter()
        try:
            return send(*args, **kwargs)
        finally:
            receivers_seconds += time.perf_counter() - started

    bmps_refreshed.send = timed_send
    campagne = Campagne.objects.get(annee=ANNEE)
    path = OUT / SCENARIOS[name][1]
    started = time.perf_counter()
    result = refresh_bmps(campagne, path.read_bytes(), filename=path.name, started_by="banc d'essai")
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "scenario": name,
                "statut": str(result.statut),
                "seconds": seconds,
                "receivers_seconds": receivers_seconds,
                "process_seconds": time.perf_counter() - process_started,
                "peak_rss_mb": usage.ru_maxrss / 1024,
                "counts": {
                    "lignes": result.lignes,
                    "ajoutes": result.ajoutes,
                    "modifies": result.modifies,
                    "retires": result.retires,
                    "restaures": result.restaures,
                    "inchanges": result.inchanges,
                },
                "errors": [str(e) for e in result.errors[:5]],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = database_url()
    if args.scenario:
        run_scenario(args.scenario)
        return

    print(f"Base {urlsplit(url).path.lstrip('/')} recréée ; génération de {SCHOOLS:,} établissements et {ROWS:,} BMP…")
    recreate_database(url)
    setup_django()
    generate()
    from django.db import connections

    connections.close_all()
    size = (OUT / "bmp_full.csv").stat().st_size
    print(f"Fichier complet : {size / 1e6:.1f} Mo.\n")

    copy_timings = raw_copy(url, OUT / "bmp_full.csv")
    copy_seconds = min(copy_timings)
    print(
        f"COPY brut du même fichier dans une table nue : meilleur {copy_seconds:.3f} s "
        f"(médiane {statistics.median(copy_timings):.3f} s sur {len(copy_timings)})\n"
    )

    expected_unchanged_c = ROWS - int(ROWS * REMOVED_SHARE) - int(ROWS * CHANGED_SHARE)
    expected = {
        "a": {"ajoutes": ROWS, "inchanges": 0},
        "b": {"ajoutes": 0, "modifies": 0, "retires": 0, "inchanges": ROWS},
        "c": {"modifies": int(ROWS * CHANGED_SHARE), "retires": int(ROWS * REMOVED_SHARE)},
    }
    results = {}
    failures = []
    for name, (label, _file) in SCENARIOS.items():
        child = subprocess.run(
            [sys.executable, __file__, "--scenario", name], capture_output=True, text=True, env=os.environ.copy()
        )
        if child.returncode != 0:
            sys.exit(f"Le scénario {name} a échoué :\n{child.stderr}")
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        results[name] = figures
        counts = figures["counts"]
        print(
            f"({name}) {label} : {figures['seconds']:.2f} s (dont récepteurs du signal "
            f"{figures['receivers_seconds']:.2f} s ; processus entier {figures['process_seconds']:.2f} s), "
            f"pic mémoire {figures['peak_rss_mb']:.0f} Mo, statut {figures['statut']}"
        )
        print(
            "     ajoutés {ajoutes} ; modifiés {modifies} ; retirés {retires} ; restaurés {restaures} ; "
            "inchangés {inchanges}".format(**counts)
        )
        for key, value in expected[name].items():
            if counts[key] != value:
                failures.append(f"({name}) {key} = {counts[key]}, attendu {value}")
        if name == "c" and counts["inchanges"] != expected_unchanged_c:
            failures.append(f"(c) inchanges = {counts['inchanges']}, attendu {expected_unchanged_c}")
        if figures["seconds"] > TARGET_SECONDS:
            failures.append(f"({name}) {figures['seconds']:.2f} s > {TARGET_SECONDS:g} s")
        if figures["peak_rss_mb"] > TARGET_MB:
            failures.append(f"({name}) {figures['peak_rss_mb']:.0f} Mo > {TARGET_MB} Mo")
        if figures["errors"]:
            failures.append(f"({name}) erreurs : {figures['errors']}")

    ratio = results["a"]["seconds"] / copy_seconds
    print(f"\nRapport première importation / COPY brut : {ratio:.1f} × (cible ≤ {TARGET_RATIO:g} ×)")
    if ratio > TARGET_RATIO:
        failures.append(f"rapport {ratio:.1f} × > {TARGET_RATIO:g} ×")
    if failures:
        print("\nCibles NON atteintes :\n  " + "\n  ".join(failures))
        sys.exit(1)
    print(
        f"Cibles atteintes : chaque exécution ≤ {TARGET_SECONDS:g} s et ≤ {TARGET_MB} Mo, rapport ≤ {TARGET_RATIO:g} ×."
    )


if __name__ == "__main__":
    main()
