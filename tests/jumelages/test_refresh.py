"""The nightly refresh's effects on the workflow (the nightly refresh), via bmp.signals."""

from decimal import Decimal

import pytest
from django.db import transaction

from bmp.models import BMP
from bmp.signals import bmps_refreshed
from establishments.models import Service
from jumelages import services
from jumelages.enums import EtatDemande, TypeEvenement
from jumelages.models import Evenement
from jumelages.signals import evenements_enregistres

from .monde import etat

pytestmark = pytest.mark.django_db


def refresh(campagne, *, changed=(), withdrawn=(), restored=(), touched=None):
    """What the refresh does once it has written the BMP rows: send the signal in its transaction."""
    touched = {} if touched is None else touched
    with transaction.atomic():
        bmps_refreshed.send(
            sender=BMP,
            campagne=campagne,
            changed=[b.pk for b in changed],
            withdrawn=[b.pk for b in withdrawn],
            restored=[b.pk for b in restored],
            touched=touched,
        )
    return touched


def test_jumelages_listens_to_the_refresh():
    assert any(key[0] == "jumelages.on_bmps_refreshed" for key, *_rest in bmps_refreshed.receivers)


def test_changed_hours_keep_the_jumelage_and_update_its_total(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    assert jumelage.total_heures == Decimal("19") and jumelage.rattachement == w.B
    BMP.objects.filter(pk=w.bmp_a.pk).update(heures=Decimal("12.5"))
    touched = refresh(w.campagne, changed=[w.bmp_a])
    jumelage.refresh_from_db()
    assert jumelage.actif and jumelage.total_heures == Decimal("22.5")
    assert jumelage.rattachement == w.A  # now the school holding most hours
    assert touched == {"demandes": [], "jumelages": [jumelage.pk]}
    evenement = Evenement.objects.get(type=TypeEvenement.BMP_MODIFIE)
    assert evenement.jumelage == jumelage and list(evenement.bmps.all()) == [w.bmp_a]
    assert set(evenement.etablissements_concernes.all()) == {w.A, w.B}
    assert evenement.donnees == {"heures": "12.50", "total_heures": "22.50"}
    assert evenement.auteur is None


def test_changed_hours_keep_a_rattachement_chosen_by_the_dos(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b], rattachement=w.B)
    BMP.objects.filter(pk=w.bmp_a.pk).update(heures=Decimal("12"))
    refresh(w.campagne, changed=[w.bmp_a])
    jumelage.refresh_from_db()
    assert jumelage.rattachement == w.B and jumelage.total_heures == Decimal("22")


def test_changed_hours_of_a_bmp_with_a_pending_request_tell_both_schools(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    BMP.objects.filter(pk=w.bmp_b.pk).update(heures=Decimal("4"))
    touched = refresh(w.campagne, changed=[w.bmp_b])
    assert etat(demande) == EtatDemande.EN_ATTENTE
    evenement = Evenement.objects.get(type=TypeEvenement.BMP_MODIFIE)
    assert set(evenement.etablissements_concernes.all()) == {w.A, w.B}
    assert touched == {"demandes": [], "jumelages": []}


def withdraw(*bmps):
    BMP.objects.filter(pk__in=[b.pk for b in bmps]).update(actif=False)


def test_a_withdrawn_bmp_lapses_its_pending_requests_and_flags_its_jumelage(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    to_jumelage = services.send_request(w.head_c, w.bmp_c, jumelage)
    invitation = services.send_request(w.head_a, w.bmp_a, w.bmp_d, three=True)
    from_e = services.send_request(w.head_e, w.bmp_e, w.bmp_l)
    untouched = services.send_request(w.head_d, w.bmp_d, w.bmp_c)
    announced = []

    def listen(sender, evenements, **kwargs):
        announced.extend(evenements)

    evenements_enregistres.connect(listen)
    try:
        withdraw(w.bmp_b, w.bmp_e)
        touched = refresh(w.campagne, withdrawn=[w.bmp_b, w.bmp_e])
    finally:
        evenements_enregistres.disconnect(listen)

    jumelage.refresh_from_db()
    assert jumelage.actif and jumelage.a_revoir  # never lose work: kept, flagged for review
    assert list(jumelage.bmps.all()) == [w.bmp_a, w.bmp_b]
    for demande in (to_jumelage, invitation, from_e):
        assert etat(demande) == EtatDemande.CADUQUE
    assert to_jumelage.raison_caducite == (
        f"le BMP {w.bmp_b.identifiant} du jumelage a été retiré par l'actualisation des BMP"
    )
    assert from_e.raison_caducite == f"le BMP {w.bmp_e.identifiant} a été retiré par l'actualisation des BMP"
    assert etat(untouched) == EtatDemande.EN_ATTENTE
    assert touched == {"demandes": sorted([to_jumelage.pk, invitation.pk, from_e.pk]), "jumelages": [jumelage.pk]}

    retire = Evenement.objects.get(type=TypeEvenement.BMP_RETIRE)
    assert retire.jumelage == jumelage and list(retire.bmps.all()) == [w.bmp_b]
    assert set(retire.etablissements_concernes.all()) == {w.A, w.B}
    assert list(retire.services_concernes.all()) == [Service.objects.get(uai="0949999H")]
    caduques = Evenement.objects.filter(type=TypeEvenement.DEMANDE_CADUQUE)
    assert {e.demande_id for e in caduques} == {to_jumelage.pk, invitation.pk, from_e.pk}
    assert set(caduques.get(demande=from_e).etablissements_concernes.all()) == {w.E, w.L}
    assert {e.pk for e in announced} == {retire.pk, *(e.pk for e in caduques)}


def test_a_jumelage_with_a_withdrawn_bmp_takes_no_third_bmp(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    withdraw(w.bmp_b)
    refresh(w.campagne, withdrawn=[w.bmp_b])
    with pytest.raises(services.WorkflowError) as error:
        services.send_request(w.head_c, w.bmp_c, jumelage)
    assert str(error.value) == (
        f"Ce jumelage ne peut pas accueillir ce BMP : le BMP {w.bmp_b.identifiant} du jumelage a été retiré "
        "par l'actualisation des BMP."
    )


def test_a_restored_bmp_is_back_in_its_jumelage_and_the_schools_are_told(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    withdraw(w.bmp_b)
    refresh(w.campagne, withdrawn=[w.bmp_b])
    BMP.objects.filter(pk=w.bmp_b.pk).update(actif=True)
    touched = refresh(w.campagne, restored=[w.bmp_b])
    jumelage.refresh_from_db()
    assert jumelage.actif and list(jumelage.bmps.all()) == [w.bmp_a, w.bmp_b]
    assert jumelage.a_revoir  # the DOS reviews it; validating clears the flag
    restaure = Evenement.objects.get(type=TypeEvenement.BMP_RESTAURE)
    assert restaure.jumelage == jumelage and set(restaure.etablissements_concernes.all()) == {w.A, w.B}
    assert touched["jumelages"] == [jumelage.pk]


def test_the_refresh_adds_to_what_other_receivers_touched(w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    BMP.objects.filter(pk=w.bmp_a.pk).update(heures=Decimal("8"))
    touched = refresh(w.campagne, changed=[w.bmp_a], touched={"jumelages": [999999], "autre": 1})
    assert touched == {"jumelages": sorted([jumelage.pk, 999999]), "demandes": [], "autre": 1}


def test_a_refresh_that_touches_no_workflow_object_records_nothing(w, ouverte):
    BMP.objects.filter(pk=w.bmp_c.pk).update(heures=Decimal("8"))
    touched = refresh(w.campagne, changed=[w.bmp_c], withdrawn=[], restored=[])
    assert touched == {"demandes": [], "jumelages": []}
    assert not Evenement.objects.exists()


def test_a_changed_total_above_the_hard_maximum_flags_the_jumelage(w, ouverte, settings):
    settings.JUMO_TOTAL_MAX_HEURES = 20
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    BMP.objects.filter(pk=w.bmp_a.pk).update(heures=Decimal("11"))
    refresh(w.campagne, changed=[w.bmp_a])
    jumelage.refresh_from_db()
    assert jumelage.actif and jumelage.a_revoir and jumelage.total_heures == Decimal("21")
