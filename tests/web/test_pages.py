"""The heads' pages: Mes BMP, the requests and their forms, a jumelage and its history, notifications,
the campaign banner and the read-only phases (issue 6)."""

import datetime
import re
from html import unescape

import pytest
from django.urls import reverse

from jumelages import services as workflow
from jumelages.enums import EtatDemande, Motif
from jumelages.models import Demande, Jumelage
from notifications.models import Notification
from tests.factories import BMPFactory
from tests.jumelages.monde import OUVERTE, VALIDATION, jumelage_direct, paris, pending

pytestmark = pytest.mark.django_db


def text(response) -> str:
    """The page's visible text, on one line (tags dropped, spaces folded)."""
    html = response.content.decode()
    html = re.sub(r"<(script|style|dialog)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"</?(span|strong|time|a|em)\b[^>]*>", "", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


# --- Banner, Mes BMP ------------------------------------------------------------------------------------


def test_every_page_shows_the_campaign_phase_and_the_school_acted_for(head_a, w, ouverte):
    for url in (reverse("web:accueil"), reverse("web:demandes"), reverse("web:notifications")):
        page = text(head_a.get(url))
        assert "Campagne de la rentrée 2024 — phase ouverte jusqu'au 27 juin 2024 à 00 h 00" in page
        assert "Ouverture aux établissements : du 17 juin 2024 au 26 juin 2024" in page
        assert f"Vous agissez pour {w.A.nom} ({w.A.uai})" in page


def test_the_accessibility_statement_is_linked_from_every_page_footer(client, head_a, w, ouverte):
    link = 'href="/accessibilite/">Accessibilité : partiellement conforme</a>'
    for url in (reverse("web:accueil"), reverse("web:demandes"), reverse("web:accessibilite")):
        assert link in head_a.get(url).content.decode()
    head_a.logout()
    assert link in head_a.get(reverse("web:connexion")).content.decode()
    page = text(head_a.get(reverse("web:accessibilite")))
    assert "JUMO est partiellement conforme avec le référentiel général d'amélioration de l'accessibilité" in page


def test_mes_bmp_shows_state_jumelage_total_and_who_built_it(head_a, w, ouverte):
    jumelage = workflow.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    free = BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.eps, identifiant="EPS-A")
    pending(free, BMPFactory(campagne=w.campagne, etablissement=w.C, discipline=w.eps), envoyee_le=OUVERTE)
    page = text(head_a.get(reverse("web:accueil")))
    assert "L1300 – MATHEMATIQUES (temps plein : 18 h)" in page
    assert f"BMP {w.bmp_a.identifiant} — 9 h Jumelé" in page
    assert f"Jumelage n° {jumelage.pk} : total 19 h pour un temps plein de 18 h (1 h au-dessus du temps plein)" in page
    assert (
        f"{w.B.nom} ({w.B.uai}), {w.B.commune.nom} : BMP {w.bmp_b.identifiant}, 10 h — établissement de rattachement"
        in page
    )
    assert "Construit par le service DSDEN 94 (0949999H)." in page
    assert "L1900 – EPS (temps plein : 20 h)" in page
    assert "BMP EPS-A — 9 h Demande en cours" in page
    assert "réponse attendue avant le 23 juin 2024 à 12 h 00, reste 3 j 0 h" in page


def test_mes_bmp_names_the_partner_that_built_a_jumelage(client, w, ouverte):
    demande = workflow.send_request(w.head_b, w.bmp_b, w.bmp_a)
    workflow.accept_request(w.head_a, demande)
    client.force_login(w.head_a)
    page = text(client.get(reverse("web:accueil")))
    assert f"Construit par un partenaire, {w.B.nom} ({w.B.uai}), par une demande acceptée." in page
    client.force_login(w.head_b)
    assert f"Construit par mon établissement, {w.B.nom} ({w.B.uai})" in text(client.get(reverse("web:accueil")))


def test_actions_are_offered_only_in_the_open_phase(head_a, w, at):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    demande = pending(w.bmp_c, jumelage=jumelage, envoyee_le=paris(2024, 6, 26, 12, 0), trois=True)
    at(paris(2024, 6, 26, 13, 0))
    assert "Trouver un partenaire" in text(head_a.get(reverse("web:accueil")))
    assert "Supprimer le jumelage" in text(head_a.get(reverse("web:jumelage", args=[jumelage.pk])))
    assert "Accepter la demande" in text(head_a.get(reverse("web:demande", args=[demande.pk])))
    at(VALIDATION)
    for url in (
        reverse("web:accueil"),
        reverse("web:jumelage", args=[jumelage.pk]),
        reverse("web:demande", args=[demande.pk]),
        reverse("web:demandes"),
        reverse("web:partenaires", args=[w.bmp_a.pk]),
        reverse("web:proposer", args=[w.bmp_a.pk, w.bmp_e.pk]),
    ):
        response = head_a.get(url)
        page = text(response)
        assert "Lecture seule" in page, url
        for action in ("Supprimer le jumelage", "Accepter la demande", "Refuser la demande", "Envoyer la demande"):
            assert action not in page, (url, action)
        assert '<form method="post" action="/demandes/' not in response.content.decode()


def test_a_free_bmp_offers_the_partner_search_in_the_open_phase(head_a, w, ouverte):
    page = head_a.get(reverse("web:accueil")).content.decode()
    assert f'href="{reverse("web:partenaires", args=[w.bmp_a.pk])}"' in page
    assert f'href="{reverse("web:carte", args=[w.bmp_a.pk])}"' in page


def test_the_server_refuses_actions_in_a_read_only_phase(head_a, w, at):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    demande = pending(w.bmp_c, jumelage=jumelage, envoyee_le=paris(2024, 6, 26, 12, 0), trois=True)
    at(VALIDATION)
    refusal = "La campagne est en phase de validation : les établissements ne peuvent plus modifier les jumelages"
    page = text(head_a.post(reverse("web:accepter", args=[demande.pk])))
    assert refusal in page
    page = text(head_a.post(reverse("web:refuser", args=[demande.pk]), {"motif": Motif.QUOTITE_INADAPTEE}))
    assert refusal in page
    page = text(head_a.post(reverse("web:supprimer_jumelage", args=[jumelage.pk]), {"motif": Motif.QUOTITE_INADAPTEE}))
    assert refusal in page
    page = text(head_a.post(reverse("web:proposer", args=[w.bmp_a.pk, w.bmp_e.pk]), {"trois": "on"}))
    assert "Envoyer la demande" not in page
    response = head_a.post(reverse("web:proposer", args=[w.bmp_a.pk, w.bmp_e.pk]), {"trois": "on"})
    assert Demande.objects.filter(bmp=w.bmp_a).count() == 0, response
    demande.refresh_from_db()
    jumelage.refresh_from_db()
    assert demande.etat == EtatDemande.EN_ATTENTE and jumelage.actif


def test_an_archived_campaign_is_closed_to_schools(head_a, w, at):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    at(paris(2024, 9, 10, 12, 0))
    assert "les établissements n'y ont plus accès depuis le 2 septembre 2024" in text(
        head_a.get(reverse("web:accueil"))
    )
    assert head_a.get(reverse("web:jumelage", args=[jumelage.pk])).status_code == 403
    assert head_a.get(reverse("web:partenaires", args=[w.bmp_a.pk])).status_code == 403


# --- Sending, answering, cancelling ---------------------------------------------------------------------------


def test_sending_a_request_redirects_with_a_success_message(head_a, w, ouverte):
    url = reverse("web:proposer", args=[w.bmp_a.pk, w.bmp_b.pk])
    page = text(head_a.get(url))
    assert "Total obtenu : 19 h pour un temps plein de 18 h." in page
    assert "Jumelage à trois BMP" in page
    response = head_a.post(url, {})
    demande = Demande.objects.get(bmp=w.bmp_a)
    assert response.status_code == 302 and response["Location"] == reverse("web:demande", args=[demande.pk])
    page = text(head_a.get(response["Location"]))
    assert f"Votre demande a été envoyée à {w.B.nom} ; réponse attendue avant le 23 juin 2024 à 12 h 00." in page
    assert "Annuler ma demande" in page
    assert not demande.trois


def test_a_workflow_refusal_is_shown_on_the_form(head_a, w, ouverte):
    head_a.post(reverse("web:proposer", args=[w.bmp_a.pk, w.bmp_b.pk]), {})
    response = head_a.post(reverse("web:proposer", args=[w.bmp_a.pk, w.bmp_c.pk]), {})
    assert response.status_code == 200
    page = text(response)
    assert "La demande n'a pas été envoyée" in page
    assert f"Le BMP {w.bmp_a.identifiant} a déjà une demande en attente" in page
    response = head_a.post(reverse("web:proposer", args=[w.bmp_a.pk, w.bmp_c.pk]), {"trois": "on"})
    assert response.status_code == 302
    assert Demande.objects.filter(bmp=w.bmp_a, trois=True, etat=EtatDemande.EN_ATTENTE).count() == 1


def test_a_request_to_a_jumelage_of_two_targets_the_jumelage(head_a, w, ouverte):
    jumelage = jumelage_direct(w.bmp_c, w.bmp_d)
    page = text(head_a.get(reverse("web:proposer", args=[w.bmp_a.pk, w.bmp_c.pk])))
    assert "la demande propose d'en devenir le troisième BMP" in page
    assert "Total obtenu : 22 h" in page
    head_a.post(reverse("web:proposer", args=[w.bmp_a.pk, w.bmp_c.pk]), {})
    demande = Demande.objects.get(bmp=w.bmp_a)
    assert demande.cible_jumelage == jumelage and demande.cible is None


def test_refusal_with_autre_needs_a_comment_tied_to_the_field(client, w, ouverte):
    demande = workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
    client.force_login(w.head_b)
    page = text(client.get(reverse("web:demande", args=[demande.pk])))
    assert "Réponse attendue avant le 23 juin 2024 à 12 h 00 (reste 3 j 0 h)" in page
    response = client.post(reverse("web:refuser", args=[demande.pk]), {"motif": Motif.AUTRE, "commentaire": "  "})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'aria-describedby="id_commentaire-desc-error"' in html
    assert re.search(
        r'<div id="id_commentaire-desc-error">\s*<ul class="errorlist"[^>]*>\s*<li[^>]*>\s*Avec le motif', html
    )
    assert Demande.objects.get(pk=demande.pk).etat == EtatDemande.EN_ATTENTE
    response = client.post(
        reverse("web:refuser", args=[demande.pk]), {"motif": Motif.AUTRE, "commentaire": "Trop loin"}, follow=True
    )
    assert "Demande refusée. L'établissement demandeur en est informé." in text(response)
    demande.refresh_from_db()
    assert (demande.etat, demande.motif, demande.commentaire) == (EtatDemande.REFUSEE, Motif.AUTRE, "Trop loin")
    client.force_login(w.head_a)
    page = text(client.get(reverse("web:demandes")))
    assert "Refusée Motif : Autre — « Trop loin »" in page


def test_a_refusal_needs_a_motive(client, w, ouverte):
    demande = workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
    client.force_login(w.head_b)
    html = client.post(reverse("web:refuser", args=[demande.pk]), {"motif": ""}).content.decode()
    assert 'aria-describedby="id_motif-desc-error"' in html


def test_accepting_makes_the_jumelage_and_both_schools_see_it(client, w, ouverte):
    demande = workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
    client.force_login(w.head_b)
    response = client.post(reverse("web:accepter", args=[demande.pk]))
    jumelage = Jumelage.objects.get()
    assert response["Location"] == reverse("web:jumelage", args=[jumelage.pk])
    page = text(client.get(response["Location"]))
    assert f"Demande acceptée : le jumelage n° {jumelage.pk} est constitué." in page
    assert "total 19 h pour un temps plein de 18 h" in page
    for head in (w.head_a, w.head_b):
        client.force_login(head)
        assert f"Jumelage n° {jumelage.pk} : total 19 h" in text(client.get(reverse("web:accueil")))


def test_accepting_an_expired_request_shows_why(client, w, at):
    demande = pending(w.bmp_a, w.bmp_b, envoyee_le=OUVERTE)
    at(OUVERTE + datetime.timedelta(hours=73))
    client.force_login(w.head_b)
    page = text(client.post(reverse("web:accepter", args=[demande.pk])))
    assert "L'opération n'a pas abouti Cette demande a expiré le 23 juin 2024 à 12 h 00" in page


def test_cancelling_a_request(head_a, w, ouverte):
    demande = workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
    response = head_a.post(reverse("web:annuler", args=[demande.pk]), follow=True)
    assert "Demande annulée." in text(response)
    assert Demande.objects.get(pk=demande.pk).etat == EtatDemande.ANNULEE
    assert head_a.get(reverse("web:annuler", args=[demande.pk])).status_code == 405


def test_deleting_a_jumelage_built_by_the_service(head_a, w, ouverte):
    jumelage = workflow.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    url = reverse("web:supprimer_jumelage", args=[jumelage.pk])
    response = head_a.post(url, {"motif": Motif.AUTRE, "commentaire": ""})
    assert 'aria-describedby="id_commentaire-desc-error"' in response.content.decode()
    response = head_a.post(url, {"motif": Motif.ZONES_DIFFERENTES}, follow=True)
    page = text(response)
    assert "Jumelage supprimé. Les établissements concernés en sont informés." in page
    assert "motif : Zones de remplacement différentes" in page
    assert not Jumelage.objects.get(pk=jumelage.pk).actif


def test_the_history_says_who_did_what_when_for_which_school_or_service(client, w, at):
    at(paris(2024, 6, 18, 9, 30))
    jumelage = workflow.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    at(paris(2024, 6, 19, 16, 5))
    demande = workflow.send_request(w.head_c, w.bmp_c, jumelage)
    at(paris(2024, 6, 20, 8, 0))
    workflow.accept_request(w.head_b, demande)
    client.force_login(w.head_a)
    page = text(client.get(reverse("web:jumelage", args=[jumelage.pk])))
    assert (
        "18 juin 2024 à 09 h 30 Jumelage construit par un service Agent QUATRE-VINGT-QUATORZE "
        "pour le service DSDEN 94 (0949999H)"
    ) in page
    assert f"19 juin 2024 à 16 h 05 Demande envoyée (demande n° {demande.pk}) Chef C pour {w.C.nom} ({w.C.uai})" in page
    assert f"20 juin 2024 à 08 h 00 Jumelage étendu à trois BMP (demande n° {demande.pk}) Chef B pour {w.B.nom}" in page


# --- Notifications -----------------------------------------------------------------------------------------------


def test_the_header_counts_unread_notifications_and_they_can_be_read(client, w, ouverte):
    workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
    workflow.send_request(w.head_c, w.bmp_c, w.bmp_b)
    client.force_login(w.head_b)
    page = text(client.get(reverse("web:accueil")))
    assert "Notifications 2 non lues" in page
    notification = Notification.objects.filter(etablissement=w.B).order_by("pk").first()
    response = client.post(reverse("web:notification_lue", args=[notification.pk]))
    assert response["Location"] == reverse("web:demande", args=[notification.demande_id])
    assert "Notifications 1 non lue" in text(client.get(reverse("web:notifications")))
    client.post(reverse("web:notifications_lues"))
    assert "non lue" not in text(client.get(reverse("web:notifications")))
