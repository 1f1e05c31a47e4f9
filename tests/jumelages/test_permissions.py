"""Who may do what in each phase (the campaign calendar), checked on the server.

Every operation × role × phase: head of the school concerned, agent of the right
service, agent of another service, superuser; each refusal's French sentence.
"""

from decimal import Decimal

import pytest

from bmp.enums import Phase
from jumelages import services
from jumelages.enums import EtatDemande, Motif
from jumelages.models import Demande, Jumelage
from jumelages.services import WorkflowError
from tests.factories import UserFactory

from .monde import ARCHIVEE, CONSULTATION, OUVERTE, PREPARATION, VALIDATION, jumelage_direct, pending

pytestmark = pytest.mark.django_db

INSTANTS = {
    Phase.PREPARATION: PREPARATION,
    Phase.OUVERTE: OUVERTE,
    Phase.VALIDATION: VALIDATION,
    Phase.CONSULTATION: CONSULTATION,
    Phase.ARCHIVEE: ARCHIVEE,
}

# The instruction's table, written again here from the text rather than from the code.
HEAD_MAY = {"send": {"ouverte"}, "accept": {"ouverte"}, "refuse": {"ouverte"}, "cancel": {"ouverte"}}
HEAD_MAY["delete"] = {"ouverte"}
SERVICE_MAY = {
    "send": {"ouverte"},
    "accept": {"ouverte"},
    "refuse": {"ouverte"},
    "cancel": {"ouverte"},
    "delete": {"preparation", "ouverte"},
    "build": {"preparation", "ouverte"},
    "rattachement": {"preparation", "ouverte"},
    "validate": {"validation"},
}

HEAD_REFUSALS = {
    "preparation": "La campagne est en phase de préparation : les établissements ne peuvent pas encore agir, "
    "la campagne ouvre le 17 juin 2024 à 00 h 00.",
    "validation": "La campagne est en phase de validation : les établissements ne peuvent plus modifier "
    "les jumelages depuis le 27 juin 2024 à 00 h 00.",
    "consultation": "La campagne est en phase de consultation : les établissements ne peuvent plus modifier "
    "les jumelages depuis le 27 juin 2024 à 00 h 00.",
    "archivee": "La campagne est archivée : les établissements n'y ont plus accès "
    "depuis le 2 septembre 2024 à 00 h 00.",
}
SERVICE_REFUSALS = {
    "preparation": "La campagne est en phase de préparation : les demandes entre établissements commencent "
    "à l'ouverture, le 17 juin 2024 à 00 h 00.",
    "validation": "La campagne est en phase de validation : les jumelages ne peuvent plus être modifiés depuis "
    "le 27 juin 2024 à 00 h 00, seulement validés jusqu'au 1er juillet 2024 à 00 h 00.",
    "consultation": "La campagne est en phase de consultation : les jumelages sont en lecture seule depuis "
    "le 1er juillet 2024 à 00 h 00.",
    "archivee": "La campagne est archivée : les jumelages sont en lecture seule depuis le 2 septembre 2024 à 00 h 00.",
}
VALIDATION_REFUSALS = {
    "preparation": "La campagne est en phase de préparation : la validation des jumelages commence "
    "le 27 juin 2024 à 00 h 00.",
    "ouverte": "La campagne est ouverte : la validation des jumelages commence le 27 juin 2024 à 00 h 00.",
    "consultation": "La campagne est en phase de consultation : la validation des jumelages est close "
    "depuis le 1er juillet 2024 à 00 h 00.",
    "archivee": "La campagne est archivée : la validation des jumelages est close "
    "depuis le 1er juillet 2024 à 00 h 00.",
}
ONLY_SERVICES = {
    "build": "Seuls les services de gestion des moyens construisent des jumelages : "
    "un établissement adresse une demande à un autre établissement.",
    "rattachement": "Seuls les services de gestion des moyens peuvent changer l'établissement de rattachement.",
    "validate": "Seuls les services de gestion des moyens valident les jumelages.",
}


def scene(w, operation):
    """The objects an operation acts on, and the school(s) it concerns (A→B requests, jumelage C+D)."""
    if operation in ("accept", "refuse", "cancel"):
        return pending(w.bmp_a, w.bmp_b, envoyee_le=OUVERTE), None
    if operation in ("delete", "validate", "rattachement"):
        return None, jumelage_direct(w.bmp_c, w.bmp_d)
    return None, None


def run(w, operation, user, demande, jumelage):
    return {
        "send": lambda: services.send_request(user, w.bmp_a, w.bmp_b),
        "accept": lambda: services.accept_request(user, demande),
        "refuse": lambda: services.refuse_request(user, demande, Motif.ZONES_DIFFERENTES),
        "cancel": lambda: services.cancel_request(user, demande),
        "delete": lambda: services.delete_jumelage(user, jumelage, Motif.QUOTITE_INADAPTEE),
        "build": lambda: services.build_jumelage(user, [w.bmp_a, w.bmp_b]),
        "validate": lambda: services.validate_jumelage(user, jumelage),
        "rattachement": lambda: services.set_rattachement(user, jumelage, w.D),
    }[operation]()


def user_for(w, role, operation):
    if role == "head":
        # The head of the school that acts: the requester sends and cancels, the target answers.
        return {"send": w.head_a, "cancel": w.head_a, "accept": w.head_b, "refuse": w.head_b}.get(operation, w.head_c)
    return {"agent": w.agent94, "other_agent": w.agent93, "superuser": w.superuser}[role]


def expected_refusal(w, role, operation, phase):
    if role == "other_agent":
        if operation in ("delete", "validate", "rattachement"):
            return f"Aucun des établissements concernés ({w.C}, {w.D}) n'est dans le périmètre de DSDEN 93 (0939999N)."
        school = w.B if operation in ("accept", "refuse") else w.A
        return f"{school} n'est pas dans le périmètre de DSDEN 93 (0939999N)."
    if role == "head":
        if operation in ONLY_SERVICES:
            return ONLY_SERVICES[operation]
        return None if phase in HEAD_MAY[operation] else HEAD_REFUSALS[phase]
    if phase in SERVICE_MAY[operation]:
        return None
    return (VALIDATION_REFUSALS if operation == "validate" else SERVICE_REFUSALS)[phase]


def check_effect(w, operation, result, demande, jumelage):
    if operation == "send":
        assert isinstance(result, Demande) and result.etat == EtatDemande.EN_ATTENTE
    elif operation == "accept":
        assert isinstance(result, Jumelage) and result.actif and demande.etat == EtatDemande.ACCEPTEE
    elif operation == "refuse":
        assert demande.etat == EtatDemande.REFUSEE
    elif operation == "cancel":
        assert demande.etat == EtatDemande.ANNULEE
    elif operation == "delete":
        assert not jumelage.actif
    elif operation == "build":
        assert result.actif and result.total_heures == Decimal("19")
    elif operation == "validate":
        assert jumelage.valide
    elif operation == "rattachement":
        assert jumelage.rattachement == w.D


@pytest.mark.parametrize("phase", [p.value for p in Phase])
@pytest.mark.parametrize("role", ["head", "agent", "other_agent", "superuser"])
@pytest.mark.parametrize(
    "operation", ["send", "accept", "refuse", "cancel", "delete", "build", "validate", "rattachement"]
)
def test_each_operation_is_allowed_only_to_the_right_role_in_the_right_phase(w, at, phase, role, operation):
    demande, jumelage = scene(w, operation)
    at(INSTANTS[Phase(phase)])
    user = user_for(w, role, operation)
    refusal = expected_refusal(w, role, operation, phase)
    if refusal is None:
        result = run(w, operation, user, demande, jumelage)
        check_effect(w, operation, result, demande, jumelage)
    else:
        with pytest.raises(WorkflowError) as error:
            run(w, operation, user, demande, jumelage)
        assert str(error.value) == refusal
        if demande is not None:
            assert Demande.objects.get(pk=demande.pk).etat == EtatDemande.EN_ATTENTE
        if jumelage is not None:
            jumelage.refresh_from_db()
            assert jumelage.actif and not jumelage.valide and jumelage.rattachement == w.C


def test_a_head_cannot_act_for_a_school_he_does_not_run(w, ouverte):
    with pytest.raises(WorkflowError) as error:
        services.send_request(w.head_c, w.bmp_a, w.bmp_b)
    assert str(error.value) == f"Vous n'êtes pas habilité à agir pour Collège A ({w.A.uai})."


def test_only_the_target_school_answers_a_request(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    for answer in (
        lambda user: services.accept_request(user, demande),
        lambda user: services.refuse_request(user, demande, Motif.QUOTITE_INADAPTEE),
    ):
        for user in (w.head_a, w.head_c):
            with pytest.raises(WorkflowError) as error:
                answer(user)
            assert str(error.value) == (
                f"Seul l'établissement destinataire, Collège B ({w.B.uai}), peut répondre à cette demande."
            )
    assert demande.etat == EtatDemande.EN_ATTENTE


def test_only_the_requesting_school_cancels_its_request(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    with pytest.raises(WorkflowError) as error:
        services.cancel_request(w.head_b, demande)
    assert str(error.value) == f"Seul l'établissement demandeur, Collège A ({w.A.uai}), peut annuler cette demande."


def test_only_the_schools_of_a_jumelage_delete_it(w, ouverte):
    jumelage = jumelage_direct(w.bmp_c, w.bmp_d)
    with pytest.raises(WorkflowError) as error:
        services.delete_jumelage(w.head_a, jumelage, Motif.QUOTITE_INADAPTEE)
    assert str(error.value) == (
        f"Seuls les établissements du jumelage (Collège C ({w.C.uai}), Collège D ({w.D.uai})) "
        "et leurs services peuvent agir sur lui."
    )


def test_a_user_without_profile_acts_for_no_school(w, ouverte):
    with pytest.raises(WorkflowError) as error:
        services.send_request(UserFactory(), w.bmp_a, w.bmp_b)
    assert str(error.value) == f"Vous n'êtes pas habilité à agir pour Collège A ({w.A.uai})."


def test_the_rectorat_manages_lycees_not_colleges(w, ouverte):
    with pytest.raises(WorkflowError) as error:
        services.send_request(w.rectorat, w.bmp_a, w.bmp_b)
    assert str(error.value) == f"Collège A ({w.A.uai}) n'est pas dans le périmètre de Rectorat (0941295X)."
    demande = services.send_request(w.rectorat, w.bmp_l, w.bmp_a)
    assert demande.evenements.get().pour_service.uai == "0941295X"


def test_a_dsden_does_not_manage_the_lycees_of_its_departement(w, ouverte):
    with pytest.raises(WorkflowError) as error:
        services.send_request(w.agent94, w.bmp_l, w.bmp_a)
    assert str(error.value) == f"Lycée L ({w.L.uai}) n'est pas dans le périmètre de DSDEN 94 (0949999H)."


def test_a_service_builds_only_with_bmps_all_within_its_perimeter(w, ouverte):
    with pytest.raises(WorkflowError) as error:
        services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_e])
    assert str(error.value) == f"Collège E ({w.E.uai}) n'est pas dans le périmètre de DSDEN 94 (0949999H)."
    assert services.build_jumelage(w.superuser, [w.bmp_a, w.bmp_e]).actif


@pytest.mark.parametrize("agent", ["agent94", "agent93"])
def test_a_jumelage_across_two_perimeters_can_be_validated_by_either_service(w, at, agent):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_e)
    at(VALIDATION)
    services.validate_jumelage(getattr(w, agent), jumelage)
    assert jumelage.valide


def test_a_superuser_acts_everywhere_but_follows_the_calendar(w, at):
    at(CONSULTATION)
    with pytest.raises(WorkflowError) as error:
        services.build_jumelage(w.superuser, [w.bmp_a, w.bmp_l])
    assert str(error.value) == SERVICE_REFUSALS["consultation"]
    at(OUVERTE)
    jumelage = services.build_jumelage(w.superuser, [w.bmp_a, w.bmp_l])
    evenement = jumelage.evenements.get()
    assert evenement.auteur == w.superuser and evenement.pour_service is None and evenement.pour_etablissement is None


def test_an_agent_acts_with_his_service_uai(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    evenement = jumelage.evenements.get()
    assert evenement.pour_service.uai == "0949999H"
    assert evenement.auteur_uai == "0949999H"


def test_a_head_acts_with_his_school_uai(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    evenement = demande.evenements.get()
    assert evenement.pour_etablissement == w.A and evenement.auteur_uai == w.A.uai
