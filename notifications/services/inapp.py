"""The schools' in-app list: the outbox rows, read by the school they were sent to."""

from django.utils import timezone

from establishments.models import Etablissement

from ..models import Notification


def notifications_for(etablissement: Etablissement):
    """A school's notifications, newest first (the in-app list; one row per mail)."""
    return (
        Notification.objects.filter(etablissement=etablissement)
        .select_related("evenement", "demande", "jumelage")
        .order_by("-cree_le", "-pk")
    )


def unread_count(etablissement: Etablissement) -> int:
    """How many of the school's notifications are unread."""
    return Notification.objects.filter(etablissement=etablissement, lue=False).count()


def mark_read(etablissement: Etablissement, notifications=None) -> int:
    """Mark the school's notifications read: all of them, or only those given (rows or ids).

    Only this school's rows are touched, whatever ids are given. Returns how many changed.
    """
    qs = Notification.objects.filter(etablissement=etablissement, lue=False)
    if notifications is not None:
        qs = qs.filter(pk__in=[n.pk if isinstance(n, Notification) else int(n) for n in notifications])
    return qs.update(lue=True, lue_le=timezone.now())
