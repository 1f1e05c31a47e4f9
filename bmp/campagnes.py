"""Creating campaigns: one per rentrée, its calendar's dates being data the DOS may change."""

from django.db import transaction

from .models import Campagne


class CampagneError(Exception):
    """A French sentence explaining why the campaign cannot be created."""


def check_annee(annee: int) -> None:
    if not 2000 <= annee <= 2100:
        raise CampagneError(f"« {annee} » n'est pas une année de rentrée plausible (2000 à 2100).")


@transaction.atomic
def create_campaign(annee: int) -> tuple[Campagne, bool]:
    """The campaign of rentrée `annee` with the default calendar (2024's dates moved to that year).

    Idempotent: an existing campaign is returned unchanged (its dates may have been set by the DOS).
    """
    check_annee(annee)
    return Campagne.objects.get_or_create(annee=annee, defaults=Campagne.default_calendar(annee))
