"""Jumelages: built by a service, deleted with a motive, validated, their hours and their rattachement."""

from decimal import Decimal

import pytest

from jumelages import services
from jumelages.enums import EtatDemande, Motif, OrigineJumelage, TypeEvenement
from jumelages.models import Evenement, JumelageBMP
from jumelages.services import WorkflowError
from tests.factories import BMPFactory, CampagneFactory

from .monde import PREPARATION, VALIDATION, etat, jumelage_direct, pending

pytestmark = pytest.mark.django_db


def refusal(call) -> str:
    with pytest.raises(WorkflowError) as error:
        call()
    return str(error.value)


# --- Built by a service -------------------------------------------------------------------


def test_a_jumelage_built_by_a_service_before_opening_is_effective_as_it_is(w, at):
    at(PREPARATION)
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b, w.bmp_c])
    assert jumelage.actif and jumelage.origine == OrigineJumelage.SERVICE and not jumelage.valide
    assert list(jumelage.bmps.all()) == [w.bmp_a, w.bmp_b, w.bmp_c]
    assert jumelage.total_heures == Decimal("25")
    evenement = Evenement.objects.get(jumelage=jumelage)
    assert evenement.type == TypeEvenement.JUMELAGE_CREE and evenement.pour_service.uai == "0949999H"
    assert set(evenement.etablissements_concernes.all()) == {w.A, w.B, w.C}
    assert set(evenement.bmps.all()) == {w.bmp_a, w.bmp_b, w.bmp_c}


@pytest.mark.parametrize("count", [1, 4])
def test_a_jumelage_groups_two_or_three_bmps(w, ouverte, count):
    bmps = [w.bmp_a, w.bmp_b, w.bmp_c, w.bmp_d][:count]
    assert refusal(lambda: services.build_jumelage(w.agent94, bmps)) == "Un jumelage réunit deux ou trois BMP."


def test_a_bmp_appears_once_in_a_jumelage(w, ouverte):
    assert refusal(lambda: services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_a])) == (
        "Le même BMP ne peut pas figurer deux fois dans un jumelage."
    )


def test_a_jumelage_groups_bmps_of_different_schools(w, ouverte):
    other_a = BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.maths)
    assert refusal(lambda: services.build_jumelage(w.agent94, [w.bmp_a, other_a])) == (
        "Un jumelage réunit des BMP d'établissements différents."
    )


def test_a_jumelage_groups_bmps_of_one_discipline(w, ouverte):
    eps = BMPFactory(campagne=w.campagne, etablissement=w.B, discipline=w.eps)
    assert refusal(lambda: services.build_jumelage(w.agent94, [w.bmp_a, eps])) == (
        "Un jumelage réunit des BMP de la même discipline : L1300, L1900 diffèrent."
    )


def test_a_jumelage_groups_bmps_of_one_campaign(w, ouverte):
    other_year = BMPFactory(campagne=CampagneFactory(annee=2023), etablissement=w.B, discipline=w.maths)
    assert refusal(lambda: services.build_jumelage(w.agent94, [w.bmp_a, other_year])) == (
        "Un jumelage réunit des BMP de la même campagne."
    )


def test_a_bmp_belongs_to_at_most_one_active_jumelage(w, ouverte):
    first = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    assert refusal(lambda: services.build_jumelage(w.agent94, [w.bmp_b, w.bmp_c])) == (
        f"Le BMP {w.bmp_b.identifiant} fait déjà partie d'un jumelage (n° {first.pk})."
    )


def test_a_withdrawn_bmp_cannot_be_paired(w, ouverte):
    w.bmp_b.actif = False
    w.bmp_b.save()
    assert refusal(lambda: services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])) == (
        f"Le BMP {w.bmp_b.identifiant} a été retiré par l'actualisation des BMP."
    )


def test_building_makes_the_requests_it_defeats_caduque(w, ouverte):
    to_b = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    from_c = services.send_request(w.head_c, w.bmp_c, w.bmp_d)
    services.build_jumelage(w.agent94, [w.bmp_b, w.bmp_d])
    assert etat(to_b) == EtatDemande.CADUQUE and etat(from_c) == EtatDemande.CADUQUE


# --- Hours -------------------------------------------------------------------------------


def test_the_total_above_the_full_time_target_is_a_warning_not_an_error(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])  # 9 + 10
    assert jumelage.total_heures == Decimal("19") and jumelage.au_dessus_de_la_cible
    assert jumelage.avertissement == "Le total (19 h) dépasse le temps plein de la discipline (18 h)."


def test_eps_target_is_20_hours(w, ouverte):
    b1 = BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.eps, heures=Decimal("10.5"))
    b2 = BMPFactory(campagne=w.campagne, etablissement=w.B, discipline=w.eps, heures=Decimal("9"))
    jumelage = services.build_jumelage(w.agent94, [b1, b2])
    assert jumelage.cible_heures == 20 and not jumelage.au_dessus_de_la_cible and jumelage.avertissement == ""


def test_no_hard_maximum_by_default(w, ouverte, settings):
    assert settings.JUMO_TOTAL_MAX_HEURES is None
    assert services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b, w.bmp_d]).total_heures == Decimal("26")


def test_the_optional_hard_maximum_refuses_building_and_accepting(w, ouverte, settings):
    settings.JUMO_TOTAL_MAX_HEURES = 18
    assert refusal(lambda: services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])) == (
        "Ce jumelage n'est pas possible : le total (19 h) dépasserait le maximum autorisé (18 h)."
    )
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, w.bmp_b)) == (
        "Ce jumelage n'est pas possible : le total (19 h) dépasserait le maximum autorisé (18 h)."
    )
    demande = pending(w.bmp_a, w.bmp_b)
    assert refusal(lambda: services.accept_request(w.head_b, demande)) == (
        "Cette demande ne peut plus aboutir : le total (19 h) dépasserait le maximum autorisé (18 h). "
        "Elle est désormais caduque."
    )
    assert services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_c]).total_heures == Decimal("15")


# --- Établissement de rattachement --------------------------------------------------------


def test_the_rattachement_is_the_school_holding_most_hours(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_c, w.bmp_a, w.bmp_d])
    assert jumelage.rattachement == w.A  # 9 h against 6 h and 7 h


def test_on_equal_hours_the_rattachement_is_the_first_bmp(w, ouverte):
    equal = BMPFactory(campagne=w.campagne, etablissement=w.C, discipline=w.maths, heures=Decimal("9"))
    assert services.build_jumelage(w.agent94, [equal, w.bmp_a]).rattachement == w.C


def test_the_rattachement_follows_the_hours_when_the_jumelage_grows(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_c, w.bmp_d])
    assert jumelage.rattachement == w.D
    services.accept_request(w.head_c, services.send_request(w.head_b, w.bmp_b, jumelage))
    jumelage.refresh_from_db()
    assert jumelage.rattachement == w.B


def test_a_service_chooses_the_rattachement_when_building(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b], rattachement=w.A)
    assert jumelage.rattachement == w.A and jumelage.rattachement_choisi
    assert refusal(lambda: services.build_jumelage(w.agent94, [w.bmp_c, w.bmp_d], rattachement=w.A)) == (
        "L'établissement de rattachement doit être l'un des établissements du jumelage."
    )


def test_the_dos_changes_the_rattachement_and_it_sticks(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_c, w.bmp_d])
    services.set_rattachement(w.agent94, jumelage, w.C)
    assert jumelage.rattachement == w.C and jumelage.rattachement_choisi
    evenement = jumelage.evenements.get(type=TypeEvenement.RATTACHEMENT_MODIFIE)
    assert evenement.donnees == {"ancien": w.D.uai, "nouveau": w.C.uai}
    services.accept_request(w.head_c, services.send_request(w.head_b, w.bmp_b, jumelage))
    jumelage.refresh_from_db()
    assert jumelage.rattachement == w.C
    assert refusal(lambda: services.set_rattachement(w.agent94, jumelage, w.C)) == (
        f"Collège C ({w.C.uai}) est déjà l'établissement de rattachement de ce jumelage."
    )
    assert refusal(lambda: services.set_rattachement(w.agent94, jumelage, w.E)) == (
        "L'établissement de rattachement doit être l'un des établissements du jumelage."
    )


# --- Deletion ----------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["head_a", "head_b", "agent94"])
def test_a_school_concerned_or_a_service_deletes_a_jumelage_with_a_motive(w, ouverte, user):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    services.delete_jumelage(getattr(w, user), jumelage, Motif.AUTRE, " Trop éloignés. ")
    assert not jumelage.actif and jumelage.motif_suppression == Motif.AUTRE
    assert jumelage.commentaire_suppression == "Trop éloignés."
    assert not JumelageBMP.objects.filter(jumelage=jumelage, actif=True).exists()
    assert list(jumelage.bmps.all()) == [w.bmp_a, w.bmp_b]  # the history keeps its BMPs
    evenement = jumelage.evenements.get(type=TypeEvenement.JUMELAGE_SUPPRIME)
    assert evenement.motif == Motif.AUTRE and evenement.commentaire == "Trop éloignés."
    assert set(evenement.etablissements_concernes.all()) == {w.A, w.B}


def test_a_deleted_jumelage_frees_its_bmps(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    services.delete_jumelage(w.head_a, jumelage, Motif.ZONES_DIFFERENTES)
    assert services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_c]).actif


def test_deleting_needs_a_motive_and_a_comment_with_autre(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    assert refusal(lambda: services.delete_jumelage(w.head_a, jumelage, "")) == (
        "Choisissez un motif : « Zones de remplacement différentes », « Quotité inadaptée » ou « Autre »."
    )
    assert refusal(lambda: services.delete_jumelage(w.head_a, jumelage, Motif.AUTRE, "   ")) == (
        "Avec le motif « Autre », un commentaire est obligatoire."
    )
    jumelage.refresh_from_db()
    assert jumelage.actif


def test_a_jumelage_is_deleted_once(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    services.delete_jumelage(w.head_a, jumelage, Motif.QUOTITE_INADAPTEE)
    assert refusal(lambda: services.delete_jumelage(w.head_b, jumelage, Motif.QUOTITE_INADAPTEE)) == (
        "Ce jumelage a déjà été supprimé le 20 juin 2024 à 12 h 00."
    )


def test_deleting_makes_the_requests_to_the_jumelage_caduque(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    to_jumelage = services.send_request(w.head_c, w.bmp_c, jumelage)
    invitation = services.send_request(w.head_a, w.bmp_a, w.bmp_d, three=True)
    services.delete_jumelage(w.head_b, jumelage, Motif.QUOTITE_INADAPTEE)
    assert etat(to_jumelage) == EtatDemande.CADUQUE
    assert to_jumelage.raison_caducite == f"le jumelage n° {jumelage.pk} a été supprimé"
    assert etat(invitation) == EtatDemande.EN_ATTENTE  # A and D can still pair
    caduque = to_jumelage.evenements.get(type=TypeEvenement.DEMANDE_CADUQUE)
    # the schools that had to answer are told too, though the jumelage is gone
    assert set(caduque.etablissements_concernes.all()) == {w.A, w.B, w.C}
    assert set(caduque.bmps.all()) == {w.bmp_a, w.bmp_b, w.bmp_c}


# --- Validation --------------------------------------------------------------------------


def test_a_service_validates_a_jumelage_during_validation(w, at):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    jumelage.a_revoir = True
    jumelage.save()
    at(VALIDATION)
    services.validate_jumelage(w.agent94, jumelage)
    assert jumelage.valide and jumelage.valide_le == VALIDATION and jumelage.valide_par == w.agent94
    assert not jumelage.a_revoir
    assert jumelage.evenements.get().type == TypeEvenement.JUMELAGE_VALIDE
    assert refusal(lambda: services.validate_jumelage(w.agent94, jumelage)) == (
        "Ce jumelage a déjà été validé le 27 juin 2024 à 12 h 00."
    )


def test_a_jumelage_with_a_withdrawn_bmp_cannot_be_validated(w, at):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    w.bmp_b.actif = False
    w.bmp_b.save()
    at(VALIDATION)
    assert refusal(lambda: services.validate_jumelage(w.agent94, jumelage)) == (
        f"Le BMP {w.bmp_b.identifiant} a été retiré par l'actualisation des BMP : "
        "revoyez ce jumelage avant de le valider."
    )


def test_a_deleted_jumelage_cannot_be_validated(w, at, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    services.delete_jumelage(w.head_a, jumelage, Motif.QUOTITE_INADAPTEE)
    at(VALIDATION)
    assert refusal(lambda: services.validate_jumelage(w.agent94, jumelage)) == (
        "Ce jumelage a été supprimé le 20 juin 2024 à 12 h 00."
    )
