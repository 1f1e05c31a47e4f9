"""Accounts of heads and agents (before SSO): who acts for which schools or service."""

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from .models import Etablissement, Profil, Service
from .uai import normalize_uai, uai_error

GROUPE_GESTIONNAIRES = "Gestionnaires DOS"
# Apps whose data agents read and change in the admin (within their perimeter, see issue 7).
APPS_GESTIONNAIRES = ("establishments", "bmp", "jumelages", "notifications")
# Except the refresh of the whole académie's BMPs (bmp.lancer_actualisation): a superuser grants it
# to the agents in charge, one by one.
PERMISSION_ACTUALISATION = ("bmp", "lancer_actualisation")


class AccountError(Exception):
    """A French sentence explaining why the account cannot be created."""


@dataclass
class AccountResult:
    user: object
    created: bool
    password: str | None  # set when a password was generated or given


def gestionnaires_group() -> Group:
    group, _ = Group.objects.get_or_create(name=GROUPE_GESTIONNAIRES)
    perms = Permission.objects.filter(content_type__app_label__in=APPS_GESTIONNAIRES).exclude(
        content_type__app_label=PERMISSION_ACTUALISATION[0], codename=PERMISSION_ACTUALISATION[1]
    )
    group.permissions.set(perms)
    return group


def _schools(uais: list[str]) -> list[Etablissement]:
    errors = []
    wanted = []
    for raw in uais:
        error = uai_error(raw)
        if error:
            errors.append(error)
        else:
            wanted.append(normalize_uai(raw))
    found = {e.uai: e for e in Etablissement.objects.filter(uai__in=wanted)}
    errors += [f"Aucun établissement ne porte l'UAI « {uai} »." for uai in wanted if uai not in found]
    if errors:
        raise AccountError(" ".join(errors))
    return [found[uai] for uai in dict.fromkeys(wanted)]


def _service(uai: str) -> Service:
    error = uai_error(uai)
    if error:
        raise AccountError(error)
    try:
        return Service.objects.get(uai=normalize_uai(uai))
    except Service.DoesNotExist:
        known = ", ".join(Service.objects.values_list("uai", flat=True))
        raise AccountError(f"Aucun service ne porte l'UAI « {normalize_uai(uai)} » (services : {known}).") from None


@transaction.atomic
def create_account(
    email: str,
    *,
    uais: list[str] | None = None,
    service_uai: str | None = None,
    password: str | None = None,
    nom: str = "",
    prenom: str = "",
) -> AccountResult:
    """Create or update the account of a head acting for `uais`, or of an agent of `service_uai`.

    Idempotent: the account's schools (or service) become exactly those given; the password
    changes only when one is given (a new account without one gets a generated password).
    """
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise AccountError(f"« {email} » n'est pas une adresse électronique valide.") from None
    if bool(uais) == bool(service_uai):
        raise AccountError("Indiquez soit un ou plusieurs établissements (--uai), soit un service (--service).")
    schools = _schools(uais) if uais else []
    service = _service(service_uai) if service_uai else None

    User = get_user_model()
    user, created = User.objects.get_or_create(username=email, defaults={"email": email})
    user.email = email
    if nom:
        user.last_name = nom.upper()
    if prenom:
        user.first_name = prenom
    if created and not password:
        password = secrets.token_urlsafe(12)
    if password:
        user.set_password(password)
    user.is_staff = service is not None or user.is_superuser
    user.save()

    profil, _ = Profil.objects.get_or_create(utilisateur=user)
    profil.service = service
    profil.save(update_fields=["service"])
    profil.etablissements.set(schools)
    group = gestionnaires_group()
    if service:
        user.groups.add(group)
    else:
        user.groups.remove(group)
    return AccountResult(user=user, created=created, password=password)
