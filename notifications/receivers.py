"""Receivers of jumelages.signals (connected in NotificationsConfig.ready), so that jumelages never
imports notifications. Both run inside the operation's transaction: the outbox rows are
written with its data, and vanish with it if it rolls back."""

from . import services


def on_evenement_enregistre(sender, *, evenement, **kwargs):
    """An operation of the workflow: each school concerned gets its mail, at once."""
    services.notifier([evenement])


def on_evenements_enregistres(sender, *, evenements, **kwargs):
    """Events recorded in bulk (sweeps, side effects, nightly refresh): their rows in one bulk INSERT."""
    services.notifier(evenements)
