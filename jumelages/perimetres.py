"""What a DOS agent may see of the workflow's data: the perimeter of his service (common.perimetre).

A DSDEN sees the collèges (and every other non-lycée school) of its département, the
Rectorat the lycées of the three départements, a superuser everything, anybody else
nothing. Every admin list, change page, action, export and the dashboard filter their
querysets through these functions; the workflow's services check the same perimeter
again when an agent acts (services.autoriser).

A request, a jumelage or an event is visible when at least one of its schools is in the
perimeter: a jumelage of a collège of the 94 and a lycée is the business of both services.
"""

from django.db.models import Q, QuerySet

from common.perimetre import etablissements_q, is_manager, sees_everything, service_of
from establishments.models import Etablissement

__all__ = [
    "bmps",
    "demandes",
    "etablissements",
    "etablissements_q",
    "evenements",
    "is_manager",
    "jumelages",
    "sees_everything",
    "service_of",
]


def etablissements(user, queryset: QuerySet | None = None) -> QuerySet:
    queryset = Etablissement.objects.all() if queryset is None else queryset
    return queryset.filter(etablissements_q(user))


def bmps(user, queryset: QuerySet | None = None) -> QuerySet:
    from bmp.models import BMP

    queryset = BMP.objects.all() if queryset is None else queryset
    return queryset.filter(etablissements_q(user, "etablissement__"))


def _jumelage_ids(user):
    from .models import JumelageBMP

    return JumelageBMP.objects.filter(etablissements_q(user, "etablissement__")).values("jumelage_id")


def jumelages(user, queryset: QuerySet | None = None) -> QuerySet:
    """Jumelages with at least one school (past or present member) in the perimeter."""
    from .models import Jumelage

    queryset = Jumelage.objects.all() if queryset is None else queryset
    if sees_everything(user):
        return queryset
    return queryset.filter(pk__in=_jumelage_ids(user))


def demandes(user, queryset: QuerySet | None = None) -> QuerySet:
    """Requests whose requesting school or requested school (or jumelage) is in the perimeter."""
    from .models import Demande

    queryset = Demande.objects.all() if queryset is None else queryset
    if sees_everything(user):
        return queryset
    return queryset.filter(
        etablissements_q(user, "bmp__etablissement__")
        | etablissements_q(user, "cible__etablissement__")
        | Q(cible_jumelage__in=_jumelage_ids(user))
    )


def evenements(user, queryset: QuerySet | None = None) -> QuerySet:
    """Events concerning a school of the perimeter, or done by or for the service."""
    from .models import Evenement, EvenementEtablissement, EvenementService

    queryset = Evenement.objects.all() if queryset is None else queryset
    if sees_everything(user):
        return queryset
    service = service_of(user)
    if service is None or not user.is_active:
        return queryset.none()
    ecoles = Etablissement.objects.filter(etablissements_q(user)).values("pk")
    return queryset.filter(
        Q(pk__in=EvenementEtablissement.objects.filter(etablissement_id__in=ecoles).values("evenement_id"))
        | Q(pk__in=EvenementService.objects.filter(service=service).values("evenement_id"))
        | Q(pour_service=service)
    )
