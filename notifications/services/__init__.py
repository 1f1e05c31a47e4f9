"""Notifications: whatever happens in JUMO, the mailbox ce.<uai>@… of each school concerned is
alerted at once, exactly once, and nothing is lost (see docs/ARCHITECTURE.md).

- outbox.py: the rows (Notification) written in the operation's transaction by `notifier`,
  their sending queued on commit;
- sending.py: the Celery tasks' work (claim, send, retry with backoff), the sweep
  `relancer_envois` and the admin's `renvoyer`;
- mails.py: the text of the mails (templates/notifications/mails/<type>/);
- inapp.py: the same rows as the schools' in-app list;
- reminders.py: the reminders before a request's deadline.

Imports flow one way: tasks.py imports these modules, never the reverse (the send task is
queued by its registered name, outbox.SEND_TASK).
"""

from jumelages.models import nom_auteur

from .inapp import mark_read, notifications_for, unread_count
from .mails import lien
from .outbox import SEND_TASK, adresse_de, new_message_id, notifier
from .reminders import envoyer_rappels
from .sending import batches, claim, relancer_envois, renvoyer, retry_delay, send, unsent

# What the rest of JUMO (tasks, receivers, admin, web, dos) and the tests use. Patch a function
# where its caller looks it up: the receivers call services.notifier through this package, the
# outbox calls outbox.enqueue.
__all__ = [
    "SEND_TASK",
    "adresse_de",
    "batches",
    "claim",
    "envoyer_rappels",
    "lien",
    "mark_read",
    "new_message_id",
    "nom_auteur",
    "notifications_for",
    "notifier",
    "relancer_envois",
    "renvoyer",
    "retry_delay",
    "send",
    "unread_count",
    "unsent",
]
