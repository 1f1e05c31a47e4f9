import json

from django.core.management.base import BaseCommand

from ops.views import CHECKS, run_checks


class Command(BaseCommand):
    help = "Les contrôles de /healthz, en ligne de commande (code de sortie 1 si l'un échoue)."

    def add_arguments(self, parser):
        parser.add_argument("controles", nargs="*", choices=list(CHECKS), help="Par défaut : tous.")

    def handle(self, *args, controles, **options):
        rapport = run_checks(controles or None)
        self.stdout.write(json.dumps(rapport, ensure_ascii=False, indent=2))
        if rapport["statut"] != "ok":
            raise SystemExit(1)
