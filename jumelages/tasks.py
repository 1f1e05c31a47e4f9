"""Celery beat sweeps (settings.CELERY_BEAT_SCHEDULE): periodic, idempotent, safe late or twice.

Nothing is ever scheduled for a given instant (no task three days ahead): each run looks
at the database and the clock and does what is due.
"""

from celery import shared_task

from . import services


@shared_task(name="jumelages.tasks.expire_overdue_requests")
def expire_overdue_requests() -> int:
    """Requests past their deadline become expirée."""
    return services.expire_overdue()


@shared_task(name="jumelages.tasks.close_campaigns")
def close_campaigns() -> int:
    """Once a campaign is closed to the schools, its pending requests become caduque."""
    return services.close_campaigns()
