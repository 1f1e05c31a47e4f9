"""History: every operation is an Evenement, announced by a signal inside its transaction."""

import pytest

from establishments.models import Service
from jumelages import services
from jumelages.enums import Motif, TypeEvenement
from jumelages.models import Demande, Evenement, nom_auteur
from jumelages.signals import evenement_enregistre, evenements_enregistres
from tests.factories import UserFactory

from .monde import VALIDATION

pytestmark = pytest.mark.django_db


@pytest.fixture
def announced():
    """Every event announced, single or in bulk, in order, with what the receiver could see then."""
    seen = []

    def single(sender, evenement, **kwargs):
        assert sender is Evenement
        seen.append((evenement, Evenement.objects.filter(pk=evenement.pk).exists()))

    def bulk(sender, evenements, **kwargs):
        assert evenements, "never announced empty"
        seen.extend((e, Evenement.objects.filter(pk=e.pk).exists()) for e in evenements)

    evenement_enregistre.connect(single)
    evenements_enregistres.connect(bulk)
    yield seen
    evenement_enregistre.disconnect(single)
    evenements_enregistres.disconnect(bulk)


def test_every_operation_is_recorded_and_announced_once(w, at, ouverte, announced):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    refused = services.send_request(w.head_c, w.bmp_c, w.bmp_d)
    services.refuse_request(w.head_d, refused, Motif.QUOTITE_INADAPTEE)
    cancelled = services.send_request(w.head_c, w.bmp_c, w.bmp_d)
    services.cancel_request(w.head_c, cancelled)
    jumelage = services.accept_request(w.head_b, demande)
    extension = services.send_request(w.head_c, w.bmp_c, jumelage)
    services.accept_request(w.head_a, extension)
    services.set_rattachement(w.agent94, jumelage, w.A)
    built = services.build_jumelage(w.superuser, [w.bmp_d, w.bmp_e])
    services.delete_jumelage(w.head_d, built, Motif.ZONES_DIFFERENTES)
    at(VALIDATION)
    services.validate_jumelage(w.agent94, jumelage)

    types = [e.type for e, _saved in announced]
    assert types == [
        TypeEvenement.DEMANDE_ENVOYEE,
        TypeEvenement.DEMANDE_ENVOYEE,
        TypeEvenement.DEMANDE_REFUSEE,
        TypeEvenement.DEMANDE_ENVOYEE,
        TypeEvenement.DEMANDE_ANNULEE,
        TypeEvenement.DEMANDE_ACCEPTEE,
        TypeEvenement.DEMANDE_ENVOYEE,
        TypeEvenement.JUMELAGE_ETENDU,
        TypeEvenement.RATTACHEMENT_MODIFIE,
        TypeEvenement.JUMELAGE_CREE,
        TypeEvenement.JUMELAGE_SUPPRIME,
        TypeEvenement.JUMELAGE_VALIDE,
    ]
    assert all(saved for _e, saved in announced)  # the receiver sees the row: same transaction
    assert Evenement.objects.count() == len(announced)
    assert len({e.pk for e, _saved in announced}) == len(announced)


def test_an_event_says_who_for_whom_and_whom_to_tell(w, ouverte, announced):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    services.refuse_request(w.head_b, demande, Motif.AUTRE, "Zone trop éloignée")
    evenement = announced[-1][0]
    assert evenement.type == TypeEvenement.DEMANDE_REFUSEE
    assert evenement.auteur == w.head_b and evenement.pour_etablissement == w.B and evenement.pour_service is None
    assert evenement.motif == Motif.AUTRE and evenement.commentaire == "Zone trop éloignée"
    assert evenement.demande == demande and evenement.campagne == w.campagne
    assert evenement.etablissement_ids == sorted([w.A.pk, w.B.pk])
    assert set(evenement.etablissements_concernes.all()) == {w.A, w.B}
    assert set(evenement.bmps.all()) == {w.bmp_a, w.bmp_b}


def test_a_failing_receiver_rolls_the_operation_back(w, ouverte):
    def explode(sender, evenement, **kwargs):
        raise RuntimeError("boîte d'envoi indisponible")

    evenement_enregistre.connect(explode)
    try:
        with pytest.raises(RuntimeError):
            services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    finally:
        evenement_enregistre.disconnect(explode)
    assert not Demande.objects.exists() and not Evenement.objects.exists()


def test_a_refused_operation_records_nothing(w, at, announced):
    at(VALIDATION)
    with pytest.raises(services.WorkflowError):
        services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    assert announced == [] and not Evenement.objects.exists()


def test_the_history_of_a_bmp_lists_its_events(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    services.accept_request(w.head_b, demande)
    assert [e.type for e in w.bmp_a.evenements.order_by("date", "pk")] == [
        TypeEvenement.DEMANDE_ENVOYEE,
        TypeEvenement.DEMANDE_ACCEPTEE,
    ]


def test_an_event_words_its_author_once_for_the_mails_and_the_history(w):
    dsden94 = Service.objects.get(uai="0949999H")
    cases = [
        (Evenement(), "un traitement automatique de JUMO", "JUMO (traitement automatique)"),
        (
            Evenement(auteur=w.head_a, pour_etablissement=w.A),
            f"Chef A ({w.A.uai})",
            f"Chef A pour {w.A.nom} ({w.A.uai})",
        ),
        (
            Evenement(auteur=w.agent94, pour_service=dsden94),
            "Agent QUATRE-VINGT-QUATORZE (0949999H)",
            "Agent QUATRE-VINGT-QUATORZE pour le service DSDEN 94 (0949999H)",
        ),
        (Evenement(auteur=w.superuser), "Super ADMIN (administration de JUMO)", "Super ADMIN (administration de JUMO)"),
        (
            Evenement(pour_etablissement=w.A),  # its author's account was deleted since
            f"un utilisateur supprimé ({w.A.uai})",
            f"un utilisateur supprimé pour {w.A.nom} ({w.A.uai})",
        ),
    ]
    for evenement, in_mails, in_history in cases:
        assert (evenement.auteur_libelle(), evenement.auteur_libelle(pour=True)) == (in_mails, in_history)
    assert nom_auteur(UserFactory(username="sans-nom@example.org", first_name=" ", last_name="")) == (
        "sans-nom@example.org"
    )
