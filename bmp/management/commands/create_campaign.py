from django.core.management.base import BaseCommand, CommandError
from django.utils.formats import date_format

from bmp.campagnes import CampagneError, create_campaign


class Command(BaseCommand):
    help = "Crée la campagne de la rentrée YEAR avec le calendrier par défaut (dates de 2024 reportées)."

    def add_arguments(self, parser):
        parser.add_argument("year", type=int, help="Année de rentrée, ex. 2025.")

    def handle(self, *args, **options):
        try:
            campagne, created = create_campaign(options["year"])
        except CampagneError as exc:
            raise CommandError(str(exc)) from None
        state = "créée" if created else "existe déjà (inchangée)"
        self.stdout.write(self.style.SUCCESS(f"{campagne} {state}."))
        for label, day in [
            ("ouverture", campagne.date_ouverture),
            ("clôture", campagne.date_cloture),
            ("fin de la validation", campagne.date_fin_validation),
            ("début de la consultation", campagne.date_debut_consultation),
            ("fin de la consultation", campagne.date_fin_consultation),
        ]:
            self.stdout.write(f"  {label} : {date_format(day, 'l j F Y')}")
