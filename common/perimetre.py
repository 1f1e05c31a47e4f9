"""The perimeter of a DOS agent on schools, in one place.

A DSDEN sees the collèges (and every other non-lycée school) of its département, the Rectorat
the lycées of the three départements, a superuser everything, anybody else nothing. The
condition on schools is `Service.etablissements_q`; every model reaches it through its
QuerySet's `du_perimetre(user)` (a BMP, a jumelage, a request, an event, a mail is visible when
one of its schools is in the perimeter). The workflow's services check it again when an agent
acts.
"""

from django.db.models import Q


def service_of(user):
    """The DOS service of the user's account, or None (a head, a superuser without service)."""
    profil = getattr(user, "profil", None)
    return profil.service if profil is not None else None


def sees_everything(user) -> bool:
    return bool(user.is_active and user.is_superuser)


def is_manager(user) -> bool:
    """A superuser or an agent of a service: who may use the DOS workspace."""
    return bool(user.is_active and (user.is_superuser or service_of(user) is not None))


def etablissements_q(user, prefix: str = "") -> Q:
    """The schools of the perimeter, as a condition on `prefix` + the school's fields."""
    if sees_everything(user):
        return Q()
    service = service_of(user)
    if service is None or not user.is_active:
        return Q(**{f"{prefix}pk__in": []})
    return service.etablissements_q(prefix)


def by_school(prefix: str = ""):
    """A perimeter filter `(user, queryset) -> queryset` for rows whose school is `prefix` (the
    admin's `perimeter_filter`, the exports): `by_school("etablissement__")` for BMPs or mails."""

    def perimeter_filter(user, queryset):
        return queryset.filter(etablissements_q(user, prefix))

    return perimeter_filter
