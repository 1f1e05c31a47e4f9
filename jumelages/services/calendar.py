"""Who acts, and when: the campaign calendar's table of phases.

The phase of a campaign is derived from its dates and the current time in Europe/Paris
(Campagne.phase_at), never stored by a job. PHASES_PERMISES says in which phases each kind
of actor may do each operation; `autoriser` checks it on the server before every
operation, once it has resolved whom the user acts for: a head for one of his schools, an
agent within his service's perimeter, a superuser everywhere.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from bmp.enums import Phase
from bmp.models import Campagne
from common.formats import MOIS, format_instant  # noqa: F401 (re-exported by jumelages.services)
from establishments.models import Etablissement, Service

from ..perimetres import service_of
from .errors import WorkflowError


def delai_reponse() -> datetime.timedelta:
    """The time a school has to answer a request: 72 hours from sending (settings.JUMO_DELAI_REPONSE_HEURES)."""
    return datetime.timedelta(hours=settings.JUMO_DELAI_REPONSE_HEURES)


def total_maximum() -> Decimal | None:
    """The optional hard maximum of a jumelage's hours (settings.JUMO_TOTAL_MAX_HEURES): off by default,
    since above the target the application only warns."""
    value = getattr(settings, "JUMO_TOTAL_MAX_HEURES", None)
    return None if value in (None, "") else Decimal(str(value))


# --- Who acts, and when -------------------------------------------------------------------

ETABLISSEMENT, SERVICE, SUPERUTILISATEUR = "etablissement", "service", "superutilisateur"

DEMANDE, SUPPRESSION, CONSTRUCTION, RATTACHEMENT, VALIDATION = (
    "demande",
    "suppression",
    "construction",
    "rattachement",
    "validation",
)

# The calendar's table: in which phases each kind of actor may do each operation. A
# superuser follows the services' calendar, everywhere.
PHASES_PERMISES = {
    (ETABLISSEMENT, DEMANDE): {Phase.OUVERTE},
    (ETABLISSEMENT, SUPPRESSION): {Phase.OUVERTE},
    (SERVICE, DEMANDE): {Phase.OUVERTE},
    (SERVICE, SUPPRESSION): {Phase.PREPARATION, Phase.OUVERTE},
    (SERVICE, CONSTRUCTION): {Phase.PREPARATION, Phase.OUVERTE},
    (SERVICE, RATTACHEMENT): {Phase.PREPARATION, Phase.OUVERTE},
    (SERVICE, VALIDATION): {Phase.VALIDATION},
}

RESERVE_AUX_SERVICES = {
    CONSTRUCTION: "Seuls les services de gestion des moyens construisent des jumelages : "
    "un établissement adresse une demande à un autre établissement.",
    RATTACHEMENT: "Seuls les services de gestion des moyens peuvent changer l'établissement de rattachement.",
    VALIDATION: "Seuls les services de gestion des moyens valident les jumelages.",
}

INTRODUCTION = {
    Phase.PREPARATION: "La campagne est en phase de préparation",
    Phase.OUVERTE: "La campagne est ouverte",
    Phase.VALIDATION: "La campagne est en phase de validation",
    Phase.CONSULTATION: "La campagne est en phase de consultation",
    Phase.ARCHIVEE: "La campagne est archivée",
}


@dataclass(frozen=True)
class Acteur:
    """Who performs an operation: a head for one school, an agent for a service, or a superuser."""

    utilisateur: object
    role: str
    etablissement: Etablissement | None = None
    service: Service | None = None


def _comma_list(etablissements) -> str:
    return ", ".join(str(e) for e in etablissements)


def _resolve_actor(user, etablissements, *, tous=False, refus="") -> Acteur:
    """Resolve who `user` acts as for an operation concerning `etablissements`.

    An agent acts within the perimeter of his service (for every school when `tous`, else
    for at least one of them); a superuser acts everywhere; a head acts for one of his
    schools among them.
    """
    etablissements = sorted(set(etablissements), key=lambda e: e.uai)
    profil = getattr(user, "profil", None)
    service = service_of(user)
    if service is not None:
        hors = [e for e in etablissements if not service.couvre(e)]
        if not hors or (not tous and len(hors) < len(etablissements)):
            return Acteur(user, SERVICE, service=service)
    if user.is_superuser:
        return Acteur(user, SUPERUTILISATEUR)
    if profil is not None:
        miens = set(profil.etablissements.filter(pk__in=[e.pk for e in etablissements]).values_list("pk", flat=True))
        for etablissement in etablissements:
            if etablissement.pk in miens:
                return Acteur(user, ETABLISSEMENT, etablissement=etablissement)
    if service is not None:
        if tous or len(hors) == 1:
            raise WorkflowError(f"{hors[0]} n'est pas dans le périmètre de {service}.")
        raise WorkflowError(
            f"Aucun des établissements concernés ({_comma_list(hors)}) n'est dans le périmètre de {service}."
        )
    raise WorkflowError(refus or f"Vous n'êtes pas habilité à agir pour {_comma_list(etablissements)}.")


def refus_de_phase(campagne: Campagne, phase: Phase, role: str, operation: str) -> str:
    """The French sentence saying why the phase forbids the operation, and since or until when."""
    ouverture, cloture, consultation, archive = (format_instant(start) for start, _phase in campagne.boundaries())
    if role == ETABLISSEMENT:
        suite = {
            Phase.PREPARATION: f"les établissements ne peuvent pas encore agir, la campagne ouvre le {ouverture}.",
            Phase.VALIDATION: f"les établissements ne peuvent plus modifier les jumelages depuis le {cloture}.",
            Phase.CONSULTATION: f"les établissements ne peuvent plus modifier les jumelages depuis le {cloture}.",
            Phase.ARCHIVEE: f"les établissements n'y ont plus accès depuis le {archive}.",
        }[phase]
    elif operation == VALIDATION:
        if phase in (Phase.PREPARATION, Phase.OUVERTE):
            suite = f"la validation des jumelages commence le {cloture}."
        else:
            suite = f"la validation des jumelages est close depuis le {consultation}."
    else:
        suite = {
            Phase.PREPARATION: f"les demandes entre établissements commencent à l'ouverture, le {ouverture}.",
            Phase.VALIDATION: f"les jumelages ne peuvent plus être modifiés depuis le {cloture}, "
            f"seulement validés jusqu'au {consultation}.",
            Phase.CONSULTATION: f"les jumelages sont en lecture seule depuis le {consultation}.",
            Phase.ARCHIVEE: f"les jumelages sont en lecture seule depuis le {archive}.",
        }[phase]
    return f"{INTRODUCTION[phase]} : {suite}"


def autoriser(user, operation: str, campagne: Campagne, etablissements, *, tous=False, refus="") -> Acteur:
    """Check, on the server, that `user` may do `operation` now (the campaign calendar's rule).

    Heads act only in the open phase; services build jumelages in préparation and
    ouverte, do everything in ouverte and validate in validation; everything else is read
    only; heads have no access once archived. The phase is computed from the campaign's
    dates and the current time in Europe/Paris.
    """
    if operation in RESERVE_AUX_SERVICES and not (user.is_superuser or service_of(user)):
        raise WorkflowError(RESERVE_AUX_SERVICES[operation])
    acteur = _resolve_actor(user, etablissements, tous=tous, refus=refus)
    if acteur.role == ETABLISSEMENT and operation in RESERVE_AUX_SERVICES:
        raise WorkflowError(RESERVE_AUX_SERVICES[operation])
    role = ETABLISSEMENT if acteur.role == ETABLISSEMENT else SERVICE
    phase = campagne.phase_at(timezone.now())
    if phase not in PHASES_PERMISES[(role, operation)]:
        raise WorkflowError(refus_de_phase(campagne, phase, role, operation))
    return acteur
