"""Scheduled jobs of the bmp app (beat schedule in settings.CELERY_BEAT_SCHEDULE)."""

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .enums import Phase, StatutImport
from .models import Campagne
from .services import refresh_bmps_from_path

logger = logging.getLogger(__name__)

STARTED_BY = "tâche planifiée"


@shared_task(name="bmp.tasks.nightly_refresh")
def nightly_refresh() -> list[dict]:
    """The nightly refresh (see docs/ARCHITECTURE.md): every campaign in its open phase
    is refreshed from settings.JUMO_BMP_REFRESH_FILE; in any other phase nothing is done and
    the log says why. A missing or invalid file is logged and recorded as an ImportRun, never
    a crash. Idempotent: the same file again changes nothing."""
    now = timezone.now()
    path = settings.JUMO_BMP_REFRESH_FILE
    report = []
    campagnes = list(Campagne.objects.order_by("annee"))
    if not campagnes:
        logger.info("Actualisation nocturne des BMP : aucune campagne, rien à faire.")
    for campagne in campagnes:
        phase = campagne.phase_at(now)
        if phase != Phase.OUVERTE:
            logger.info(
                "Actualisation nocturne des BMP : campagne %s en phase « %s », rien à faire "
                "(l'actualisation n'a lieu que pendant la phase ouverte).",
                campagne.annee,
                phase.label,
            )
            report.append({"campagne": campagne.annee, "statut": "ignoree", "phase": str(phase)})
            continue
        try:
            result = refresh_bmps_from_path(campagne, path, started_by=STARTED_BY)
        except Exception:
            # Recorded as a failed ImportRun by the service; the other campaigns still run.
            logger.exception("Actualisation nocturne des BMP de la campagne %s : échec inattendu.", campagne.annee)
            report.append({"campagne": campagne.annee, "statut": StatutImport.ECHEC.value})
            continue
        if result.ok:
            logger.info("\n".join(result.summary_lines()))
        else:
            logger.error("\n".join(result.summary_lines() + result.error_lines()))
        report.append({"campagne": campagne.annee, "statut": str(result.statut), "import": result.run.pk})
    return report
