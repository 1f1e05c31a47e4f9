"""Sweeps: time-driven work, periodic, idempotent, in bulk (jumelages.tasks runs them).

Nothing is scheduled for a given instant: each run looks at the database and the clock
and does what is due. The phase never depends on a sweep having run; the sweeps only carry
out the side effects of a transition (a deadline passed, a campaign closed).
"""

import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bmp.enums import Phase
from bmp.models import Campagne

from ..enums import EtatDemande, TypeEvenement
from ..models import Evenement, instant_de_cloture
from .calendar import format_instant
from .endings import _end_pending
from .events import _new_evenement, _record, _ToRecord


def expire_overdue(now: datetime.datetime | None = None) -> int:
    """Expire the pending requests past their deadline (72 hours without an answer: expirée).

    A sweep: idempotent (a second run returns 0), safe late or concurrently (SKIP
    LOCKED), a constant number of queries whatever the number of requests; the events
    are recorded in bulk and announced by one `evenements_enregistres` signal. A request
    whose deadline falls after its campaign closed is left to close_campaigns (caduque).
    """
    now = now or timezone.now()
    campagnes = list(Campagne.objects.all())
    if not campagnes:
        return 0
    filtre = Q()
    for campagne in campagnes:
        filtre |= Q(campagne_id=campagne.pk, echeance__lte=min(now, instant_de_cloture(campagne)))
    with transaction.atomic():
        evenements = _end_pending(filtre, EtatDemande.EXPIREE, TypeEvenement.DEMANDE_EXPIREE, now=now, skip_locked=True)
    return len(evenements)


def close_campaigns(now: datetime.datetime | None = None) -> int:
    """At closing, pending requests become caduque (a closed campaign makes them impossible).

    The phase itself never depends on this sweep: it only carries out the transition's
    side effects, once (idempotent, bulk, SKIP LOCKED). Requests whose deadline came
    before the closing are left to expire_overdue. Returns how many became caduque.
    """
    now = now or timezone.now()
    campagnes = [c for c in Campagne.objects.all() if now >= instant_de_cloture(c)]
    if not campagnes:
        return 0
    raisons, filtre = {}, Q()
    for c in campagnes:
        cloture = instant_de_cloture(c)
        raisons[c.pk] = f"la campagne est close aux établissements depuis le {format_instant(cloture)}"
        filtre |= Q(campagne_id=c.pk, echeance__gt=cloture)
    with transaction.atomic():
        evenements = _end_pending(
            filtre,
            EtatDemande.CADUQUE,
            TypeEvenement.DEMANDE_CADUQUE,
            now=now,
            raisons_par_campagne=raisons,
            skip_locked=True,
        )
        a_annoncer = [c for c in campagnes if c.phase_at(now) in (Phase.VALIDATION, Phase.CONSULTATION)]
        # Two runs at once: the second waits here for the first, then finds its event (and the
        # database would refuse a second one anyway).
        list(Campagne.objects.select_for_update(no_key=True).filter(pk__in=[c.pk for c in a_annoncer]).order_by("pk"))
        deja = set(
            Evenement.objects.filter(type=TypeEvenement.CAMPAGNE_CLOTUREE, campagne__in=a_annoncer).values_list(
                "campagne_id", flat=True
            )
        )
        _record(
            [
                _ToRecord(
                    _new_evenement(
                        TypeEvenement.CAMPAGNE_CLOTUREE,
                        date=now,
                        campagne=c,
                        commentaire=raisons[c.pk],
                    )
                )
                for c in a_annoncer
                if c.pk not in deja
            ],
            bulk=True,
        )
    return len(evenements)
