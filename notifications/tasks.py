"""Celery tasks of the outbox; the rules live in services/ (see docs/ARCHITECTURE.md).

send_notifications is queued on commit by the operation that wrote the rows (services.outbox
finds it by its name, services.SEND_TASK: this module imports the services, never the
reverse): one message, which a worker splits into batches when there are many. acks_late with
reject_on_worker_lost: a message whose worker dies is not lost; no expiry: a message queued
while no worker runs is delivered when one starts. A second delivery of the same message sends
nothing (each row is claimed before its send). The beat sweeps (settings.CELERY_BEAT_SCHEDULE)
catch up on whatever a lost message left behind.
"""

from celery import shared_task

from . import services


@shared_task(name=services.SEND_TASK, acks_late=True, reject_on_worker_lost=True)
def send_notifications(ids: list[int] = (), evenements: list[int] = ()) -> dict:
    """Send these outbox rows, or the rows of these events; more than JUMO_NOTIFICATIONS_LOT rows
    are split into one message per batch, for the workers to share. The failed ones are queued
    again after their backoff delay."""
    if evenements:
        ids = services.unsent(ids, evenements)
    lots = services.batches(list(ids))
    if len(lots) > 1:
        for lot in lots:
            send_notifications.delay(ids=lot)
        return {"lots": len(lots)}
    report = services.send(list(ids))
    if not send_notifications.app.conf.task_always_eager:
        # Inline (no broker), a retry would run at once: the sweep takes them up instead.
        for delai, a_reessayer in sorted(report.retry.items()):
            send_notifications.apply_async(kwargs={"ids": a_reessayer}, countdown=delai)
    return {"envoyes": len(report.sent), "echecs": len(report.failed), "deja_pris": len(report.taken)}


@shared_task(name="notifications.tasks.sweep_outbox")
def sweep_outbox() -> int:
    """Queue again the mails left unsent (lost enqueue, worker killed during a send)."""
    return services.relancer_envois()


@shared_task(name="notifications.tasks.send_reminders")
def send_reminders() -> int:
    """Remind the schools that must answer a request before it ends (settings.JUMO_RAPPELS_ACTIFS)."""
    return services.envoyer_rappels()
