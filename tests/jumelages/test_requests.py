"""Requests: sending, accepting, refusing, cancelling (the rules of jumelages and requests)."""

import datetime
from decimal import Decimal

import pytest

from jumelages import services
from jumelages.enums import EtatDemande, Motif, OrigineJumelage, TypeEvenement
from jumelages.models import Demande, Evenement, Jumelage, JumelageBMP
from jumelages.services import WorkflowError
from tests.factories import BMPFactory, CampagneFactory, EtablissementFactory, head_of

from .monde import OUVERTE, etat, jumelage_direct, pending

pytestmark = pytest.mark.django_db


def refusal(call) -> str:
    with pytest.raises(WorkflowError) as error:
        call()
    return str(error.value)


# --- Sending ----------------------------------------------------------------------------


def test_a_request_is_pending_with_a_deadline_72_hours_after_sending(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    assert demande.etat == EtatDemande.EN_ATTENTE
    assert demande.bmp == w.bmp_a and demande.cible == w.bmp_b and demande.cible_jumelage is None
    assert demande.envoyee_le == OUVERTE
    assert demande.echeance == OUVERTE + datetime.timedelta(hours=72)
    assert demande.envoyee_par == w.head_a


def test_the_answer_delay_is_a_setting(w, ouverte, settings):
    settings.JUMO_DELAI_REPONSE_HEURES = 48
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    assert demande.echeance == OUVERTE + datetime.timedelta(hours=48)


def test_a_request_between_two_bmps_of_the_same_school_is_refused(w, ouverte):
    other = BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.maths)
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, other)) == (
        f"Les deux BMP appartiennent au même établissement, Collège A ({w.A.uai}) : "
        "un jumelage réunit des établissements différents."
    )


def test_a_request_needs_the_same_discipline(w, ouverte):
    eps = BMPFactory(campagne=w.campagne, etablissement=w.B, discipline=w.eps)
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, eps)) == (
        "Un jumelage réunit des BMP de la même discipline : L1300 et L1900 diffèrent."
    )


def test_a_request_needs_the_same_campaign(w, ouverte):
    other_year = BMPFactory(campagne=CampagneFactory(annee=2023), etablissement=w.B, discipline=w.maths)
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, other_year)) == (
        "Un jumelage réunit des BMP de la même campagne."
    )


def test_a_withdrawn_bmp_can_neither_send_nor_receive_a_request(w, ouverte):
    w.bmp_b.actif = False
    w.bmp_b.save()
    message = (
        f"Le BMP {w.bmp_b.identifiant} a été retiré par l'actualisation des BMP : "
        "il ne peut plus faire l'objet d'une demande."
    )
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, w.bmp_b)) == message
    assert refusal(lambda: services.send_request(w.head_b, w.bmp_b, w.bmp_a)) == message


def test_a_bmp_has_one_pending_outgoing_request(w, ouverte):
    first = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, w.bmp_c)) == (
        f"Le BMP {w.bmp_a.identifiant} a déjà une demande en attente (échéance le 23 juin 2024 à 12 h 00) : "
        "attendez la réponse ou annulez-la ; une deuxième demande n'est permise que pour un "
        "« jumelage à trois BMP »."
    )
    assert Demande.objects.filter(bmp=w.bmp_a).get() == first


def test_a_second_pending_request_is_allowed_for_a_jumelage_of_three(w, ouverte):
    services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    second = services.send_request(w.head_a, w.bmp_a, w.bmp_c, three=True)
    assert second.etat == EtatDemande.EN_ATTENTE and second.trois and second.rang == 2


def test_never_a_third_pending_request_even_for_three(w, ouverte):
    services.send_request(w.head_a, w.bmp_a, w.bmp_b, three=True)
    services.send_request(w.head_a, w.bmp_a, w.bmp_c, three=True)
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, w.bmp_d, three=True)) == (
        f"Le BMP {w.bmp_a.identifiant} a déjà deux demandes en attente : "
        "c'est le maximum, même pour un jumelage à trois BMP."
    )


def test_a_cancelled_request_frees_its_place(w, ouverte):
    first = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    services.cancel_request(w.head_a, first)
    assert services.send_request(w.head_a, w.bmp_a, w.bmp_c).rang == 1


def test_a_request_past_its_deadline_frees_its_place_and_is_marked_expired(w, at):
    at(OUVERTE)
    first = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    at(OUVERTE + datetime.timedelta(hours=72))
    services.send_request(w.head_a, w.bmp_a, w.bmp_c)
    assert etat(first) == EtatDemande.EXPIREE
    assert first.evenements.filter(type=TypeEvenement.DEMANDE_EXPIREE).count() == 1


def test_the_same_request_cannot_be_pending_twice(w, ouverte):
    services.send_request(w.head_a, w.bmp_a, w.bmp_b, three=True)
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, w.bmp_b, three=True)) == (
        f"Une demande du BMP {w.bmp_a.identifiant} vers ce destinataire est déjà en attente "
        "(échéance le 23 juin 2024 à 12 h 00)."
    )


def test_a_school_that_already_received_a_request_accepts_it_rather_than_asking_back(w, ouverte):
    services.send_request(w.head_b, w.bmp_b, w.bmp_a)
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, w.bmp_b)) == (
        f"Le BMP {w.bmp_b.identifiant} vous a déjà adressé une demande en attente : "
        "acceptez-la plutôt que d'en envoyer une autre."
    )


def test_a_request_to_a_bmp_already_paired_goes_to_its_jumelage(w, ouverte):
    jumelage = jumelage_direct(w.bmp_b, w.bmp_c)
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, w.bmp_b)) == (
        f"Le BMP {w.bmp_b.identifiant} fait déjà partie d'un jumelage (n° {jumelage.pk}) : "
        "adressez la demande à ce jumelage."
    )


def test_a_request_to_a_bmp_in_a_jumelage_of_three_is_refused(w, ouverte):
    jumelage_direct(w.bmp_b, w.bmp_c, w.bmp_d)
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, w.bmp_b)) == (
        f"Le BMP {w.bmp_b.identifiant} fait déjà partie d'un jumelage complet de trois BMP."
    )


def test_a_request_to_a_jumelage_of_three_is_refused(w, ouverte):
    jumelage = jumelage_direct(w.bmp_b, w.bmp_c, w.bmp_d)
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, jumelage)) == (
        f"Ce jumelage ne peut pas accueillir ce BMP : le jumelage n° {jumelage.pk} compte déjà trois BMP."
    )


def test_a_request_to_a_jumelage_holding_a_bmp_of_my_school_is_refused(w, ouverte):
    jumelage = jumelage_direct(w.bmp_b, w.bmp_c)
    other_b = BMPFactory(campagne=w.campagne, etablissement=w.B, discipline=w.maths)
    assert refusal(lambda: services.send_request(w.head_b, other_b, jumelage)) == (
        f"Ce jumelage ne peut pas accueillir ce BMP : le jumelage n° {jumelage.pk} compte déjà un BMP "
        f"de Collège B ({w.B.uai})."
    )


def test_a_request_to_a_deleted_jumelage_is_refused(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_b, w.bmp_c])
    services.delete_jumelage(w.head_b, jumelage, Motif.QUOTITE_INADAPTEE)
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, jumelage)) == (
        f"Ce jumelage ne peut pas accueillir ce BMP : le jumelage n° {jumelage.pk} a été supprimé."
    )


def test_a_bmp_in_a_jumelage_of_two_asks_a_third_only_with_three(w, ouverte):
    jumelage_direct(w.bmp_a, w.bmp_b)
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, w.bmp_c)) == (
        f"Le BMP {w.bmp_a.identifiant} fait déjà partie d'un jumelage de deux BMP : cochez "
        "« jumelage à trois BMP » pour proposer un troisième BMP."
    )
    assert services.send_request(w.head_a, w.bmp_a, w.bmp_c, three=True).trois


def test_a_bmp_in_a_jumelage_cannot_ask_to_join_another(w, ouverte):
    jumelage_direct(w.bmp_a, w.bmp_b)
    other = jumelage_direct(w.bmp_c, w.bmp_d)
    assert refusal(lambda: services.send_request(w.head_a, w.bmp_a, other, three=True)) == (
        f"Le BMP {w.bmp_a.identifiant} fait déjà partie d'un jumelage : il ne peut pas en rejoindre un autre."
    )


# --- Accepting --------------------------------------------------------------------------


def test_accepting_creates_a_jumelage_of_the_two_bmps(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    jumelage = services.accept_request(w.head_b, demande)
    assert isinstance(jumelage, Jumelage)
    assert list(jumelage.bmps.all()) == [w.bmp_a, w.bmp_b]
    assert jumelage.actif and jumelage.origine == OrigineJumelage.DEMANDE
    assert jumelage.total_heures == Decimal("19") and jumelage.cible_heures == 18
    assert jumelage.rattachement == w.B  # 10 h against 9 h
    assert demande.etat == EtatDemande.ACCEPTEE and demande.jumelage == jumelage
    assert demande.terminee_par == w.head_b
    evenement = Evenement.objects.get(demande=demande, type=TypeEvenement.DEMANDE_ACCEPTEE)
    assert evenement.jumelage == jumelage and evenement.pour_etablissement == w.B
    assert set(evenement.etablissements_concernes.all()) == {w.A, w.B}


def test_a_request_to_a_jumelage_of_two_makes_it_three(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    demande = services.send_request(w.head_c, w.bmp_c, jumelage)
    assert demande.cible is None and demande.cible_jumelage == jumelage
    assert services.accept_request(w.head_a, demande) == jumelage
    jumelage.refresh_from_db()
    assert list(jumelage.bmps.all()) == [w.bmp_a, w.bmp_b, w.bmp_c]
    assert jumelage.total_heures == Decimal("25")
    evenement = Evenement.objects.get(demande=demande, type=TypeEvenement.JUMELAGE_ETENDU)
    assert set(evenement.etablissements_concernes.all()) == {w.A, w.B, w.C}


@pytest.mark.parametrize("answering_head", ["head_a", "head_b"])
def test_a_request_to_a_jumelage_is_answered_by_any_of_its_schools_once(w, ouverte, answering_head):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    demande = services.send_request(w.head_c, w.bmp_c, jumelage)
    services.accept_request(getattr(w, answering_head), demande)
    other = w.head_b if answering_head == "head_a" else w.head_a
    assert refusal(lambda: services.accept_request(other, demande)).startswith(
        "Cette demande a déjà été acceptée le 20 juin 2024 à 12 h 00."
    )
    assert refusal(lambda: services.refuse_request(other, demande, Motif.QUOTITE_INADAPTEE)) == (
        "Cette demande a déjà été acceptée le 20 juin 2024 à 12 h 00."
    )


def test_accepting_makes_the_requests_that_can_no_longer_succeed_caduque(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    from_c_to_b = services.send_request(w.head_c, w.bmp_c, w.bmp_b)
    from_b_to_d = services.send_request(w.head_b, w.bmp_b, w.bmp_d)
    unrelated = services.send_request(w.head_c, w.bmp_c, w.bmp_d, three=True)
    services.accept_request(w.head_b, demande)
    assert etat(from_c_to_b) == EtatDemande.CADUQUE
    assert from_c_to_b.raison_caducite == f"le BMP {w.bmp_b.identifiant} fait désormais partie d'un jumelage"
    assert etat(from_b_to_d) == EtatDemande.CADUQUE
    assert etat(unrelated) == EtatDemande.EN_ATTENTE
    caduque = Evenement.objects.get(demande=from_c_to_b, type=TypeEvenement.DEMANDE_CADUQUE)
    assert set(caduque.etablissements_concernes.all()) == {w.B, w.C}
    assert caduque.auteur is None


def test_three_intent_requests_build_a_jumelage_of_three(w, ouverte):
    to_b = services.send_request(w.head_a, w.bmp_a, w.bmp_b, three=True)
    to_c = services.send_request(w.head_a, w.bmp_a, w.bmp_c, three=True)
    jumelage = services.accept_request(w.head_b, to_b)
    assert etat(to_c) == EtatDemande.EN_ATTENTE  # it can still bring C in as the third BMP
    assert services.accept_request(w.head_c, to_c) == jumelage
    assert list(jumelage.bmps.all()) == [w.bmp_a, w.bmp_b, w.bmp_c]


def test_a_request_without_three_lapses_when_its_bmp_is_paired(w, ouverte):
    to_b = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    to_c = services.send_request(w.head_a, w.bmp_a, w.bmp_c, three=True)
    from_d = services.send_request(w.head_d, w.bmp_d, w.bmp_a)
    services.accept_request(w.head_b, to_b)
    assert etat(to_c) == EtatDemande.EN_ATTENTE
    assert etat(from_d) == EtatDemande.CADUQUE


def test_accepting_when_a_bmp_joined_another_jumelage_fails_and_the_request_becomes_caduque(w, ouverte):
    demande = pending(w.bmp_a, w.bmp_b)
    jumelage_direct(w.bmp_b, w.bmp_c)  # written behind the workflow's back: the request is still pending
    assert refusal(lambda: services.accept_request(w.head_b, demande)) == (
        f"Cette demande ne peut plus aboutir : le BMP {w.bmp_b.identifiant} fait désormais partie d'un "
        "jumelage. Elle est désormais caduque."
    )
    assert demande.etat == EtatDemande.CADUQUE
    assert Demande.objects.get(pk=demande.pk).etat == EtatDemande.CADUQUE
    assert demande.evenements.get().type == TypeEvenement.DEMANDE_CADUQUE
    assert refusal(lambda: services.accept_request(w.head_b, demande)) == (
        f"Cette demande est devenue caduque le 20 juin 2024 à 12 h 00 : le BMP {w.bmp_b.identifiant} "
        "fait désormais partie d'un jumelage."
    )


def test_accepting_into_a_jumelage_that_became_three_fails(w, ouverte):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    demande = pending(w.bmp_c, jumelage=jumelage)
    JumelageBMP.objects.create(jumelage=jumelage, bmp=w.bmp_d, etablissement=w.D, position=3)
    assert refusal(lambda: services.accept_request(w.head_a, demande)) == (
        f"Cette demande ne peut plus aboutir : le jumelage n° {jumelage.pk} compte déjà trois BMP. "
        "Elle est désormais caduque."
    )


# --- Refusing and cancelling ---------------------------------------------------------------


def test_refusing_records_the_motive(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    services.refuse_request(w.head_b, demande, Motif.ZONES_DIFFERENTES)
    assert demande.etat == EtatDemande.REFUSEE and demande.motif == Motif.ZONES_DIFFERENTES
    evenement = demande.evenements.get(type=TypeEvenement.DEMANDE_REFUSEE)
    assert evenement.motif == Motif.ZONES_DIFFERENTES and evenement.get_motif_display() == (
        "Zones de remplacement différentes"
    )
    assert evenement.auteur == w.head_b and evenement.pour_etablissement == w.B
    assert not Jumelage.objects.exists()


def test_refusal_needs_a_motive_from_the_list(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    for motif in ("", "trop loin", None):
        assert refusal(lambda motif=motif: services.refuse_request(w.head_b, demande, motif)) == (
            "Choisissez un motif : « Zones de remplacement différentes », « Quotité inadaptée » ou « Autre »."
        )
    assert demande.etat == EtatDemande.EN_ATTENTE


@pytest.mark.parametrize("commentaire", ["", "   ", "\n\t "])
def test_refusal_with_autre_needs_a_comment_and_spaces_are_no_comment(w, ouverte, commentaire):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    assert refusal(lambda: services.refuse_request(w.head_b, demande, Motif.AUTRE, commentaire)) == (
        "Avec le motif « Autre », un commentaire est obligatoire."
    )
    assert demande.etat == EtatDemande.EN_ATTENTE


def test_refusal_with_autre_keeps_the_trimmed_comment(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    services.refuse_request(w.head_b, demande, "autre", "  Poste déjà pourvu.  ")
    assert demande.commentaire == "Poste déjà pourvu."
    assert demande.evenements.get(type=TypeEvenement.DEMANDE_REFUSEE).commentaire == "Poste déjà pourvu."


def test_a_request_cannot_be_answered_twice(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    services.refuse_request(w.head_b, demande, Motif.QUOTITE_INADAPTEE)
    assert refusal(lambda: services.accept_request(w.head_b, demande)) == (
        "Cette demande a déjà été refusée le 20 juin 2024 à 12 h 00."
    )
    assert refusal(lambda: services.refuse_request(w.head_b, demande, Motif.QUOTITE_INADAPTEE)) == (
        "Cette demande a déjà été refusée le 20 juin 2024 à 12 h 00."
    )


def test_the_requester_cancels_a_pending_request(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    services.cancel_request(w.head_a, demande)
    assert demande.etat == EtatDemande.ANNULEE
    assert demande.evenements.filter(type=TypeEvenement.DEMANDE_ANNULEE).count() == 1
    assert refusal(lambda: services.accept_request(w.head_b, demande)) == (
        "Cette demande a été annulée par l'établissement demandeur le 20 juin 2024 à 12 h 00."
    )


def test_an_accepted_request_cannot_be_cancelled(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    services.accept_request(w.head_b, demande)
    assert refusal(lambda: services.cancel_request(w.head_a, demande)) == (
        "Cette demande a déjà été acceptée le 20 juin 2024 à 12 h 00."
    )


def test_a_cite_scolaire_head_acts_for_each_of_his_schools(w, ouverte):
    college, lycee = EtablissementFactory(nom="Collège cité"), EtablissementFactory(nom="Lycée cité")
    head = head_of(college, lycee)
    bmp_college = BMPFactory(campagne=w.campagne, etablissement=college, discipline=w.maths)
    demande = services.send_request(head, bmp_college, w.bmp_a)
    assert demande.evenements.get().pour_etablissement == college
