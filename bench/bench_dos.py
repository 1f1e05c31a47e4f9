"""The DOS workspace at national scale: the dashboard, the exports and the admin's lists, for an
agent of the DSDEN 94 and for a superuser.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jumo_pages_bench .venv/bin/python bench/bench_dos.py [--reuse]

The database (name containing "bench") is the one bench_pages.py fills: 11,000 schools, 150,000
BMPs, 15,000 jumelages, 3,000 pending requests; without --reuse it is dropped and generated again.
Each page is requested once to warm up, then timed (best of --repeat) through Django's test
client, DEBUG off: the time of the whole request, its queries, the size of the answer. No
target is set by the issue; the figures are for the closing note and bench/README.md.
"""

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_pages  # noqa: E402
import bench_refresh  # noqa: E402

PAGES = [
    "/dos/tableau-de-bord/",
    "/dos/exports/jumelages.csv",
    "/dos/exports/jumelages.xlsx",
    "/dos/exports/bmp-non-jumeles.csv",
    "/dos/exports/bmp-non-jumeles.xlsx",
    "/admin/jumelages/jumelage/",
    "/admin/jumelages/jumelage/?ecart=loin",
    "/admin/bmp/bmp/",
    "/admin/bmp/bmp/?etat=libre",
    "/admin/jumelages/demande/?echeance=24h",
    "/admin/jumelages/evenement/",
    "/admin/notifications/notification/",
]


def users():
    from django.contrib.auth import get_user_model

    from establishments.accounts import create_account

    agent = create_account("agent94@bench.local", service_uai="0949999H", password="banc-d-essai").user
    superuser, _ = get_user_model().objects.update_or_create(
        username="super@bench.local", defaults={"is_superuser": True, "is_staff": True}
    )
    return [("DSDEN 94", agent), ("superutilisateur", superuser)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="store_true", help="garder la base déjà générée")
    parser.add_argument("--repeat", type=int, default=3, help="mesures par page (la meilleure est gardée)")
    args = parser.parse_args()
    url = bench_refresh.database_url()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    if not args.reuse:
        print(f"Base {urlsplit(url).path.lstrip('/')} recréée ; génération…")
        bench_refresh.recreate_database(url)
    bench_refresh.setup_django()
    if not args.reuse:
        bench_pages.generate()
    else:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bmp.models import BMP
    from jumelages.models import Jumelage

    print(
        f"{BMP.objects.count():,} BMP, {Jumelage.objects.filter(actif=True).count():,} jumelages actifs ; "
        f"meilleure de {args.repeat} mesures, client de test de Django, DEBUG désactivé.\n"
    )
    print(f"{'utilisateur':18s} {'page':42s} {'statut':>6s} {'temps':>9s} {'requêtes':>9s} {'taille':>9s}")
    for nom, user in users():
        client = Client()
        client.force_login(user)
        for page in PAGES:
            client.get(page)
            meilleur = None
            for _ in range(max(1, args.repeat)):
                with CaptureQueriesContext(connection) as requetes:
                    debut = time.perf_counter()
                    response = client.get(page)
                    duree = time.perf_counter() - debut
                meilleur = duree if meilleur is None else min(meilleur, duree)
            print(
                f"{nom:18s} {page:42s} {response.status_code:6d} {meilleur * 1000:7.0f} ms "
                f"{len(requetes.captured_queries):9d} {len(response.content) / 1024:7.0f} Ko"
            )


if __name__ == "__main__":
    main()
