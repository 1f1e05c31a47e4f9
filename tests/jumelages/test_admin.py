"""The admin: history readable with French labels; its actions go through the services."""

import pytest
from django.urls import reverse

from jumelages import services
from jumelages.enums import EtatDemande, Motif, TypeEvenement
from jumelages.models import Demande, Evenement, Jumelage

from .monde import VALIDATION

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    jumelage = services.accept_request(w.head_b, demande)
    return demande, jumelage


def test_the_lists_and_histories_are_shown_in_french(admin_client, w, history):
    demande, jumelage = history
    pages = {
        reverse("admin:jumelages_demande_changelist"): "Demandes",
        reverse("admin:jumelages_jumelage_changelist"): "Jumelages",
        reverse("admin:jumelages_evenement_changelist"): "Événements",
        reverse("admin:jumelages_demande_change", args=[demande.pk]): "Demande acceptée",
        reverse("admin:jumelages_jumelage_change", args=[jumelage.pk]): "Établissement de rattachement",
        reverse("admin:jumelages_evenement_change", args=[jumelage.evenements.get().pk]): "Établissements concernés",
    }
    for url, text in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url
    page = admin_client.get(reverse("admin:jumelages_jumelage_change", args=[jumelage.pk])).content.decode()
    assert "Historique" in page and "Demande acceptée" in page and w.bmp_a.identifiant in page


def test_the_history_of_a_bmp_is_found_by_its_identifiant(admin_client, w, history):
    url = reverse("admin:jumelages_evenement_changelist")
    response = admin_client.get(url, {"q": w.bmp_a.identifiant})
    assert response.context["cl"].result_count == 2
    response = admin_client.get(url, {"type__exact": TypeEvenement.DEMANDE_ACCEPTEE})
    assert response.context["cl"].result_count == 1


def test_admin_pages_do_not_edit_the_workflow_directly(admin_client, w, history):
    _demande, jumelage = history
    assert admin_client.get(reverse("admin:jumelages_jumelage_add")).status_code == 403
    assert admin_client.get(reverse("admin:jumelages_jumelage_delete", args=[jumelage.pk])).status_code == 403


def test_the_accept_action_calls_the_service_and_shows_refusals(admin_client, w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    url = reverse("admin:jumelages_demande_changelist")
    response = admin_client.post(url, {"action": "accepter", "_selected_action": [demande.pk]}, follow=True)
    assert "1 demande(s) acceptée(s)." in response.content.decode()
    demande.refresh_from_db()
    assert demande.etat == EtatDemande.ACCEPTEE
    assert Evenement.objects.get(type=TypeEvenement.DEMANDE_ACCEPTEE).auteur.username == "admin"
    response = admin_client.post(url, {"action": "accepter", "_selected_action": [demande.pk]}, follow=True)
    assert "Cette demande a déjà été acceptée le 20 juin 2024 à 12 h 00." in response.content.decode()


def test_the_cancel_action_calls_the_service(admin_client, w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    admin_client.post(
        reverse("admin:jumelages_demande_changelist"), {"action": "annuler", "_selected_action": [demande.pk]}
    )
    demande.refresh_from_db()
    assert demande.etat == EtatDemande.ANNULEE


def test_refusing_from_the_admin_needs_a_motive(admin_client, w, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    url = reverse("admin:jumelages_demande_refuser", args=[demande.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"motif": Motif.AUTRE, "commentaire": "  "})
    assert "Avec le motif « Autre », un commentaire est obligatoire." in response.content.decode()
    response = admin_client.post(url, {"motif": Motif.QUOTITE_INADAPTEE, "commentaire": ""})
    assert response.status_code == 302
    demande.refresh_from_db()
    assert demande.etat == EtatDemande.REFUSEE and demande.motif == Motif.QUOTITE_INADAPTEE


def test_building_from_the_admin_calls_the_service(admin_client, w, ouverte):
    url = reverse("admin:jumelages_jumelage_construire")
    assert admin_client.get(url).status_code == 200
    data = {"campagne": w.campagne.pk, "identifiants": f"{w.bmp_a.identifiant}, {w.bmp_e.identifiant}"}
    response = admin_client.post(url, {**data, "rattachement": w.E.uai.lower(), "construire": "1"}, follow=True)
    jumelage = Jumelage.objects.get()
    assert jumelage.rattachement == w.E and jumelage.evenements.get().type == TypeEvenement.JUMELAGE_CREE
    response = admin_client.post(url, data)
    assert f"Le BMP {w.bmp_a.identifiant} fait déjà partie d'un jumelage (n° {jumelage.pk})." in (
        response.content.decode().replace("&#x27;", "'")
    )
    response = admin_client.post(url, {"campagne": w.campagne.pk, "identifiants": "INCONNU-1 " + w.bmp_c.identifiant})
    assert "BMP inconnus dans cette campagne : INCONNU-1." in response.content.decode()


def test_deleting_and_changing_the_rattachement_from_the_admin_call_the_services(admin_client, w, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    url = reverse("admin:jumelages_jumelage_rattachement", args=[jumelage.pk])
    assert admin_client.post(url, {"etablissement": w.A.pk}).status_code == 302
    jumelage.refresh_from_db()
    assert jumelage.rattachement == w.A
    url = reverse("admin:jumelages_jumelage_supprimer", args=[jumelage.pk])
    response = admin_client.post(url, {"motif": Motif.AUTRE, "commentaire": "Erreur de saisie"})
    assert response.status_code == 302
    jumelage.refresh_from_db()
    assert not jumelage.actif and jumelage.commentaire_suppression == "Erreur de saisie"


def test_the_validate_action_follows_the_calendar(admin_client, w, at, ouverte):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    url = reverse("admin:jumelages_jumelage_changelist")
    response = admin_client.post(url, {"action": "valider", "_selected_action": [jumelage.pk]}, follow=True)
    assert "la validation des jumelages commence le 27 juin 2024 à 00 h 00." in (
        response.content.decode().replace("&#x27;", "'")
    )
    at(VALIDATION)
    admin_client.post(url, {"action": "valider", "_selected_action": [jumelage.pk]})
    jumelage.refresh_from_db()
    assert jumelage.valide


def test_the_expiry_action_runs_the_sweep(admin_client, w, at, ouverte):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    at(demande.echeance)
    response = admin_client.post(
        reverse("admin:jumelages_demande_changelist"),
        {"action": "expirer_les_demandes_echues", "_selected_action": [demande.pk]},
        follow=True,
    )
    assert "1 demande(s) expirée(s)." in response.content.decode()
    assert Demande.objects.get().etat == EtatDemande.EXPIREE
