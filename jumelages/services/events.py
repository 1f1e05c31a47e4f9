"""Events: every operation records Evenement rows in its transaction and announces them.

Each row is linked to the BMPs, schools and services it concerns (whom notifications
tells). The rows are announced with jumelages.signals (see there): an operation's own
event with `evenement_enregistre`, the events recorded in bulk (sweeps, side effects)
with `evenements_enregistres`.
"""

from dataclasses import dataclass, field

from django.utils import timezone

from ..models import Evenement, EvenementBMP, EvenementEtablissement, EvenementService
from ..signals import evenement_enregistre, evenements_enregistres
from .calendar import Acteur


@dataclass
class _ToRecord:
    """An event not saved yet, with the ids of the BMPs, schools and services it concerns."""

    evenement: Evenement
    bmp_ids: set = field(default_factory=set)
    etablissement_ids: set = field(default_factory=set)
    service_ids: set = field(default_factory=set)


def _new_evenement(type_evenement, *, acteur: Acteur | None = None, date=None, **fields) -> Evenement:
    """An unsaved Evenement, its author the acting user (none for the sweeps and the refresh)."""
    return Evenement(
        type=type_evenement,
        date=date or timezone.now(),
        auteur=acteur.utilisateur if acteur else None,
        pour_etablissement=acteur.etablissement if acteur else None,
        pour_service=acteur.service if acteur else None,
        **fields,
    )


def _record(items: list[_ToRecord], *, bulk: bool) -> list[Evenement]:
    """Record events with their BMPs, schools and services concerned, in bulk, then announce them:
    all at once (evenements_enregistres) when `bulk`, else one by one (evenement_enregistre)."""
    if not items:
        return []
    evenements = Evenement.objects.bulk_create([item.evenement for item in items])
    for through, champ, attribut in (
        (EvenementBMP, "bmp_id", "bmp_ids"),
        (EvenementEtablissement, "etablissement_id", "etablissement_ids"),
        (EvenementService, "service_id", "service_ids"),
    ):
        liens = [
            through(evenement_id=item.evenement.pk, **{champ: pk})
            for item in items
            for pk in sorted(getattr(item, attribut))
        ]
        if liens:
            through.objects.bulk_create(liens)
    for item in items:
        item.evenement.etablissement_ids = sorted(item.etablissement_ids)
        item.evenement.service_ids = sorted(item.service_ids)
    if bulk:
        evenements_enregistres.send(sender=Evenement, evenements=evenements)
    else:
        for evenement in evenements:
            evenement_enregistre.send(sender=Evenement, evenement=evenement)
    return evenements


def _record_operation(type_evenement, *, bmp_ids, etablissement_ids, **fields) -> Evenement:
    """Record the event of an operation a user performed, and announce it (evenement_enregistre)."""
    item = _ToRecord(_new_evenement(type_evenement, **fields), set(bmp_ids), set(etablissement_ids))
    return _record([item], bulk=False)[0]
