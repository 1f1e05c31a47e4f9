"""python manage.py campaign_phase YEAR [--at ISO-DATETIME]: the campaign's phase at that instant."""

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bmp.models import PARIS, Campagne


class Command(BaseCommand):
    help = (
        "Affiche la phase de la campagne à un instant (maintenant par défaut) : "
        "préparation, ouverte, validation, consultation ou archivée."
    )

    def add_arguments(self, parser):
        parser.add_argument("annee", type=int, help="Année de rentrée de la campagne, ex. 2024.")
        parser.add_argument(
            "--at",
            dest="instant",
            help="Instant ISO 8601, ex. 2024-06-17T00:00 ; sans fuseau, heure de Paris.",
        )

    def handle(self, *args, annee, instant=None, **options):
        try:
            campagne = Campagne.objects.get(annee=annee)
        except Campagne.DoesNotExist:
            raise CommandError(f"Aucune campagne pour la rentrée {annee}.") from None
        when = timezone.now()
        if instant:
            try:
                when = datetime.datetime.fromisoformat(instant)
            except ValueError:
                raise CommandError(
                    f"« {instant} » n'est pas une date ISO 8601 (ex. 2024-06-17T00:00 ou 2024-06-17T00:00+02:00)."
                ) from None
            if timezone.is_naive(when):
                when = when.replace(tzinfo=PARIS)
        self.stdout.write(campagne.phase_at(when).label)
