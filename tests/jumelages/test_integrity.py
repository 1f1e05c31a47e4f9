"""The database keeps the invariants true on its own, whatever the code does (docs/ARCHITECTURE.md)."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from jumelages.enums import EtatDemande, Motif
from jumelages.models import Demande, JumelageBMP

from .monde import OUVERTE, jumelage_direct, pending

pytestmark = pytest.mark.django_db


def refused_by_the_database(write):
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


def test_a_bmp_cannot_be_in_two_active_jumelages(w):
    jumelage_direct(w.bmp_a, w.bmp_b)
    refused_by_the_database(lambda: jumelage_direct(w.bmp_a, w.bmp_c))


def test_a_bmp_may_be_in_inactive_jumelages_and_one_active(w):
    old = jumelage_direct(w.bmp_a, w.bmp_b)
    old.appartenances.update(actif=False)
    assert jumelage_direct(w.bmp_a, w.bmp_c).actif


def test_a_jumelage_holds_at_most_three_bmps(w):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b, w.bmp_c)
    refused_by_the_database(
        lambda: JumelageBMP.objects.create(jumelage=jumelage, bmp=w.bmp_d, etablissement=w.D, position=4)
    )


def test_a_jumelage_holds_one_bmp_per_school(w):
    from tests.factories import BMPFactory

    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    other_a = BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.maths)
    refused_by_the_database(
        lambda: JumelageBMP.objects.create(jumelage=jumelage, bmp=other_a, etablissement=w.A, position=3)
    )


def test_an_accepted_request_names_its_jumelage(w):
    demande = pending(w.bmp_a, w.bmp_b)
    refused_by_the_database(
        lambda: Demande.objects.filter(pk=demande.pk).update(etat=EtatDemande.ACCEPTEE, terminee_le=OUVERTE)
    )


def test_an_answered_request_is_dated_and_a_pending_one_is_not(w):
    demande = pending(w.bmp_a, w.bmp_b)
    refused_by_the_database(lambda: Demande.objects.filter(pk=demande.pk).update(etat=EtatDemande.ANNULEE))
    refused_by_the_database(lambda: Demande.objects.filter(pk=demande.pk).update(terminee_le=OUVERTE))


def test_a_refusal_carries_a_motive_and_autre_a_real_comment(w):
    demande = pending(w.bmp_a, w.bmp_b)
    refuse = Demande.objects.filter(pk=demande.pk)
    refused_by_the_database(lambda: refuse.update(etat=EtatDemande.REFUSEE, terminee_le=OUVERTE))
    refused_by_the_database(
        lambda: refuse.update(etat=EtatDemande.REFUSEE, terminee_le=OUVERTE, motif=Motif.AUTRE, commentaire="  ")
    )
    refuse.update(etat=EtatDemande.REFUSEE, terminee_le=OUVERTE, motif=Motif.AUTRE, commentaire="Trop loin")


def test_a_request_is_answered_once_by_a_conditional_update(w):
    demande = pending(w.bmp_a, w.bmp_b)
    answer = {"etat": EtatDemande.ANNULEE, "terminee_le": OUVERTE}
    assert Demande.objects.filter(pk=demande.pk, etat=EtatDemande.EN_ATTENTE).update(**answer) == 1
    assert Demande.objects.filter(pk=demande.pk, etat=EtatDemande.EN_ATTENTE).update(**answer) == 0


def test_a_bmp_has_at_most_two_pending_requests_and_the_second_is_for_three(w):
    pending(w.bmp_a, w.bmp_b)
    refused_by_the_database(lambda: pending(w.bmp_a, w.bmp_c, rang=2))  # a second without "three"
    pending(w.bmp_a, w.bmp_c, rang=2, trois=True)
    refused_by_the_database(lambda: pending(w.bmp_a, w.bmp_d, rang=2, trois=True))
    refused_by_the_database(lambda: pending(w.bmp_a, w.bmp_d, rang=3, trois=True))


def test_a_request_targets_a_bmp_or_a_jumelage_not_both(w):
    jumelage = jumelage_direct(w.bmp_b, w.bmp_c)
    refused_by_the_database(lambda: pending(w.bmp_a, w.bmp_d, jumelage=jumelage))
    refused_by_the_database(lambda: pending(w.bmp_a))


def test_a_deadline_comes_after_sending(w):
    demande = pending(w.bmp_a, w.bmp_b)
    refused_by_the_database(
        lambda: Demande.objects.filter(pk=demande.pk).update(echeance=OUVERTE - datetime.timedelta(seconds=1))
    )


def test_a_deleted_jumelage_carries_its_motive(w):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    jumelage.actif = False
    refused_by_the_database(jumelage.save)
