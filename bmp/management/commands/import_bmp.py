"""python manage.py import_bmp FICHIER [--campagne ANNEE] [--dry-run] [--force]

Refreshes a campaign's BMPs from the académie's file (FORMATS.md "BMP refresh"): the rules
are in bmp.services.refresh_bmps; this command finds the campaign, shows progress and prints
the summary, or every error and a non-zero exit status when the file is rejected.
"""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from bmp.models import Campagne
from bmp.services import refresh_bmps_from_path

STAGE_LABELS = {"validation": "Validation", "écriture": "Écriture"}


class Command(BaseCommand):
    help = (
        "Actualise les BMP d'une campagne à partir du fichier de l'académie (instantané complet) : "
        "ajouts, modifications, retraits et restaurations, après validation de tout le fichier."
    )

    def add_arguments(self, parser):
        parser.add_argument("fichier", help="Le fichier CSV des BMP (identifiant, uai, discipline, heures).")
        parser.add_argument(
            "--campagne",
            type=int,
            metavar="ANNEE",
            help="Année de rentrée de la campagne ; par défaut la plus récente.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Essai à blanc : valide le fichier et compte les changements sans rien enregistrer.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Applique le fichier même s'il retire plus de "
            f"{settings.JUMO_REFRESH_MAX_WITHDRAWAL_RATIO * 100:g} %% des BMP actifs de la campagne.",
        )

    def handle(self, *args, fichier, campagne=None, dry_run=False, force=False, **options):
        target = self.find_campagne(campagne)
        with ProgressReporter(self.stdout, interactive=self.stdout.isatty()) as progress:
            result = refresh_bmps_from_path(
                target, fichier, dry_run=dry_run, force=force, started_by="commande import_bmp", progress=progress
            )
        if not result.ok:
            for line in result.error_lines():
                self.stderr.write(line)
            for line in result.summary_lines():
                self.stderr.write(line)
            raise CommandError(result.summary_lines()[0])
        for line in result.summary_lines():
            self.stdout.write(line)

    def find_campagne(self, annee: int | None) -> Campagne:
        if annee is not None:
            try:
                return Campagne.objects.get(annee=annee)
            except Campagne.DoesNotExist:
                known = ", ".join(str(a) for a in Campagne.objects.order_by("annee").values_list("annee", flat=True))
                raise CommandError(
                    f"Aucune campagne {annee}" + (f" (campagnes existantes : {known})." if known else ".")
                ) from None
        latest = Campagne.objects.order_by("-annee").first()
        if latest is None:
            raise CommandError("Aucune campagne n'existe : créez-la d'abord dans l'administration.")
        return latest


class ProgressReporter:
    """progress(stage, done, total) for the service: a tqdm bar on a terminal, plain lines otherwise."""

    def __init__(self, stdout, *, interactive: bool):
        self.stdout = stdout
        self.interactive = interactive
        self.bar = None
        self.stage = None
        self.last_printed = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()

    def __call__(self, stage: str, done: int, total: int) -> None:
        label = STAGE_LABELS.get(stage, stage)
        if stage != self.stage:
            self.stage, self.last_printed = stage, -1
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            if self.interactive:
                self.bar = tqdm(total=total, desc=label, unit=" lignes", unit_scale=True, file=sys.stderr)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            return
        # About ten lines per stage.
        if self.last_printed < 0 or done >= total or done - self.last_printed >= total / 10:
            self.last_printed = done
            self.stdout.write(f"{label} : {done:,} / {total:,}".replace(",", " "))
