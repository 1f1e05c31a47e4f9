"""The beat heartbeat (settings.CELERY_BEAT_SCHEDULE): /healthz reads its age."""

from celery import shared_task
from django.utils import timezone

from .models import Heartbeat

BEAT = "beat"


@shared_task(name="ops.tasks.heartbeat")
def heartbeat() -> str:
    """Record that beat (and a worker) ran now. Idempotent: one row (an upsert), its time moved forward;
    two beats at once only write the same row twice (README: run one beat only)."""
    now = timezone.now()
    Heartbeat.objects.bulk_create(
        [Heartbeat(nom=BEAT, vu_le=now)], update_conflicts=True, unique_fields=["nom"], update_fields=["vu_le"]
    )
    return now.isoformat()
