"""Import the disciplines de poste file (FORMATS.md "Reference data")."""

from django.core.management.base import BaseCommand, CommandError

from establishments.csvfiles import ImportFileError
from establishments.services import import_disciplines, read_file, rejection_message


class Command(BaseCommand):
    help = "Importe les disciplines de poste (code;libelle;heures_temps_plein)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Chemin du fichier CSV.")
        parser.add_argument("--dry-run", action="store_true", help="Vérifier et compter sans rien enregistrer.")

    def handle(self, *args, **options):
        try:
            result = import_disciplines(read_file(options["file"]), dry_run=options["dry_run"])
        except ImportFileError as exc:
            raise CommandError(rejection_message(exc)) from None
        limit = None if options["verbosity"] >= 2 else 50
        self.stdout.write("\n".join(result.summary_lines(details_limit=limit)))
