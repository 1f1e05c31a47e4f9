"""Import schools from one of the Ministry's published files (Annuaire, géolocalisation, IPS des lycées)."""

from django.core.management.base import BaseCommand, CommandError

from establishments.csvfiles import ImportFileError
from establishments.services import import_etablissements, read_file, rejection_message


class Command(BaseCommand):
    help = (
        "Importe les établissements publics du second degré depuis un fichier publié par le ministère "
        "(Annuaire de l'éducation, Adresse et géolocalisation des établissements, IPS des lycées)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Chemin du fichier CSV.")
        parser.add_argument("--dry-run", action="store_true", help="Vérifier et compter sans rien enregistrer.")

    def handle(self, *args, **options):
        try:
            result = import_etablissements(read_file(options["file"]), dry_run=options["dry_run"])
        except ImportFileError as exc:
            raise CommandError(rejection_message(exc)) from None
        limit = None if options["verbosity"] >= 2 else 50
        self.stdout.write("\n".join(result.summary_lines(details_limit=limit)))
