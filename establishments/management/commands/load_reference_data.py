"""Load the real reference data shipped in settings.JUMO_REFERENCE_DATA_DIR (fixtures/README.md)."""

from django.core.management.base import BaseCommand, CommandError

from establishments.csvfiles import ImportFileError
from establishments.services import load_reference_data, rejection_message


class Command(BaseCommand):
    help = (
        "Charge le référentiel réel livré avec JUMO : communes, disciplines, collèges, lycées, "
        "puis zones de remplacement si un fichier zones_remplacement.csv est présent. Peut être relancé."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--directory", help="Dossier des fichiers (par défaut : JUMO_REFERENCE_DATA_DIR, soit fixtures/)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Vérifier et compter sans rien enregistrer.")

    def handle(self, *args, **options):
        try:
            outcome = load_reference_data(options["directory"], dry_run=options["dry_run"])
        except ImportFileError as exc:
            raise CommandError(rejection_message(exc)) from None
        self.stdout.write("\n".join(outcome.summary_lines()))
