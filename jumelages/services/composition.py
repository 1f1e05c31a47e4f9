"""What a jumelage is made of: its members, its total hours and its établissement de rattachement.

The total is shown against the target (a warning above it); a hard maximum is a setting,
off by default (calendar.total_maximum). The établissement de rattachement is the school
holding most hours, unless the DOS chose another one.
"""

from decimal import Decimal

from django.db import IntegrityError, transaction

from ..models import Jumelage, JumelageBMP, format_heures
from .calendar import total_maximum
from .errors import WorkflowError


def _over_maximum(bmps) -> str:
    """Why these BMPs' total would exceed the optional maximum, or ""."""
    maximum = total_maximum()
    total = sum((b.heures for b in bmps), Decimal(0))
    if maximum is not None and total > maximum:
        return f"le total ({format_heures(total)}) dépasserait le maximum autorisé ({format_heures(maximum)})"
    return ""


def _default_rattachement(membres: list) -> int:
    """The default établissement de rattachement (our decision): the school holding most hours;
    on a tie, that of the first BMP of the jumelage."""
    rang = {m.pk: i for i, m in enumerate(membres)}
    return max(membres, key=lambda m: (m.heures, -rang[m.pk])).etablissement_id


def _compose(jumelage: Jumelage, membres: list, *, nouveaux=(), now, rattachement_id=None):
    """Save the jumelage with its total and établissement de rattachement, and add the new members.

    `membres` are the BMPs already in the jumelage (all of them for a new one). The
    database refuses a BMP in two active jumelages, two BMPs of one school, a fourth BMP.
    """
    tous = [*membres, *nouveaux]
    jumelage.total_heures = sum((m.heures for m in tous), Decimal(0))
    if rattachement_id is not None:
        jumelage.rattachement_id, jumelage.rattachement_choisi = rattachement_id, True
    elif not jumelage.rattachement_choisi:
        jumelage.rattachement_id = _default_rattachement(tous)
    creation = jumelage.pk is None
    ajouts = tous if creation else list(nouveaux)
    debut = 1 if creation else len(membres) + 1
    try:
        with transaction.atomic():
            jumelage.save()
            JumelageBMP.objects.bulk_create(
                JumelageBMP(
                    jumelage=jumelage, bmp=b, etablissement_id=b.etablissement_id, position=debut + i, ajoute_le=now
                )
                for i, b in enumerate(ajouts)
            )
    except IntegrityError as exc:  # the locks make this unreachable; the constraints keep it true anyway
        raise WorkflowError("Un de ces BMP fait déjà partie d'un jumelage actif.") from exc
