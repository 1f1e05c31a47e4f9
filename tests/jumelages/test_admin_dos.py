"""The DOS workspace in the admin (issue 7): perimeters on every list, page and action; building,
validating and changing jumelages through the services; BMP states; campaigns."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from bmp.models import BMP, Campagne
from establishments.accounts import gestionnaires_group
from establishments.models import ZoneRemplacement
from jumelages import services
from jumelages.enums import EtatDemande, Motif, TypeEvenement
from jumelages.models import Demande, Evenement, Jumelage
from notifications.models import Notification
from tests.factories import BMPFactory, CommuneFactory, EtablissementFactory

from .monde import OUVERTE, PREPARATION, VALIDATION, jumelage_direct, pending

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(w):
    """The agents as create_account makes them: staff, in the « Gestionnaires DOS » group."""
    groupe = gestionnaires_group()
    for agent in (w.agent94, w.agent93, w.rectorat):
        agent.is_staff = True
        agent.save(update_fields=["is_staff"])
        agent.groups.add(groupe)
    return w


def client_de(client, user):
    client.force_login(user)
    return client


def visibles(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, url
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.fixture
def campagne_peuplee(staff, at):
    """A jumelage of the 94 (A+B), one across the 94 and the lycée (C+L), one of the 93 with… nobody
    else of the 93: E with D (94). A pending request A→? is impossible (A paired): D→… none left."""
    w = staff
    at(PREPARATION)
    j_94 = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    j_lycee = services.build_jumelage(w.superuser, [w.bmp_c, w.bmp_l])
    bmp_e2 = BMPFactory(campagne=w.campagne, etablissement=w.E, discipline=w.eps, heures=Decimal("12"))
    bmp_d2 = BMPFactory(campagne=w.campagne, etablissement=w.D, discipline=w.eps, heures=Decimal("6"))
    j_93_94 = services.build_jumelage(w.superuser, [bmp_e2, bmp_d2])
    at(OUVERTE)
    demande_93 = services.send_request(w.head_e, w.bmp_e, w.bmp_d)
    return w, j_94, j_lycee, j_93_94, demande_93


# --- Perimeters ------------------------------------------------------------------------------------


def test_each_agent_sees_the_jumelages_of_his_perimeter_only(client, campagne_peuplee):
    w, j_94, j_lycee, j_93_94, _demande = campagne_peuplee
    url = reverse("admin:jumelages_jumelage_changelist")
    assert visibles(client_de(client, w.agent94), url) == {j_94.pk, j_lycee.pk, j_93_94.pk}
    assert visibles(client_de(client, w.agent93), url) == {j_93_94.pk}
    assert visibles(client_de(client, w.rectorat), url) == {j_lycee.pk}
    assert visibles(client_de(client, w.superuser), url) == {j_94.pk, j_lycee.pk, j_93_94.pk}


def test_each_agent_sees_the_bmps_requests_events_mails_and_schools_of_his_perimeter(client, campagne_peuplee):
    w, j_94, j_lycee, j_93_94, demande = campagne_peuplee
    bmps = reverse("admin:bmp_bmp_changelist")
    c = client_de(client, w.rectorat)
    assert visibles(c, bmps) == {w.bmp_l.pk}
    assert visibles(c, reverse("admin:establishments_etablissement_changelist")) == {w.L.pk}
    assert visibles(c, reverse("admin:jumelages_demande_changelist")) == set()
    evenements = visibles(c, reverse("admin:jumelages_evenement_changelist"))
    assert evenements == set(Evenement.objects.filter(jumelage=j_lycee).values_list("pk", flat=True))
    mails = visibles(c, reverse("admin:notifications_notification_changelist"))
    assert mails == set(Notification.objects.filter(etablissement=w.L).values_list("pk", flat=True)) != set()

    c = client_de(client, w.agent93)
    assert visibles(c, bmps) == set(BMP.objects.filter(etablissement=w.E).values_list("pk", flat=True))
    # The request E → D concerns a collège of each département: both DSDEN see it.
    assert visibles(c, reverse("admin:jumelages_demande_changelist")) == {demande.pk}
    assert visibles(client_de(client, w.agent94), reverse("admin:jumelages_demande_changelist")) == {demande.pk}
    assert visibles(client_de(client, w.rectorat), reverse("admin:jumelages_demande_changelist")) == set()
    services_vus = visibles(client_de(client, w.agent93), reverse("admin:establishments_service_changelist"))
    assert services_vus == {w.agent93.profil.service_id}


def test_pages_and_views_outside_the_perimeter_are_not_found(client, campagne_peuplee):
    w, j_94, _j_lycee, _j, demande = campagne_peuplee
    c = client_de(client, w.rectorat)
    # The admin's change page redirects to the index with « n'existe pas » for an object it cannot see.
    response = c.get(reverse("admin:jumelages_jumelage_change", args=[j_94.pk]), follow=True)
    assert response.redirect_chain and "n’existe pas" in response.content.decode()
    response = c.get(reverse("admin:bmp_bmp_change", args=[w.bmp_a.pk]), follow=True)
    assert response.redirect_chain
    for name, pk in [
        ("admin:jumelages_jumelage_supprimer", j_94.pk),
        ("admin:jumelages_jumelage_rattachement", j_94.pk),
        ("admin:jumelages_demande_refuser", demande.pk),
    ]:
        assert c.get(reverse(name, args=[pk])).status_code == 404, name
        assert c.post(reverse(name, args=[pk]), {"motif": Motif.AUTRE, "commentaire": "x"}).status_code == 404
    j_94.refresh_from_db()
    assert j_94.actif


def test_an_action_never_reaches_an_object_outside_the_perimeter(client, campagne_peuplee, at):
    w, j_94, j_lycee, _j, _demande = campagne_peuplee
    at(VALIDATION)
    url = reverse("admin:jumelages_jumelage_changelist")
    client_de(client, w.rectorat).post(url, {"action": "valider", "_selected_action": [j_94.pk, j_lycee.pk]})
    j_94.refresh_from_db()
    j_lycee.refresh_from_db()
    assert (j_94.valide, j_lycee.valide) == (False, True)


def test_the_outbox_action_never_resends_a_mail_outside_the_perimeter(client, campagne_peuplee):
    w, j_94, _j_lycee, _j, _demande = campagne_peuplee
    mail_94 = Notification.objects.filter(etablissement=w.A).first()
    Notification.objects.filter(pk=mail_94.pk).update(statut="en_echec", tentatives=8)
    url = reverse("admin:notifications_notification_changelist")
    client_de(client, w.rectorat).post(url, {"action": "renvoyer", "_selected_action": [mail_94.pk]})
    mail_94.refresh_from_db()
    assert (mail_94.statut, mail_94.tentatives) == ("en_echec", 8)
    client_de(client, w.agent94).post(url, {"action": "renvoyer", "_selected_action": [mail_94.pk]})
    mail_94.refresh_from_db()
    assert mail_94.statut == "a_envoyer"


def test_reference_data_is_read_only_for_agents_and_accounts_are_for_superusers(client, staff):
    w = staff
    c = client_de(client, w.agent94)
    url = reverse("admin:establishments_etablissement_change", args=[w.A.pk])
    assert c.get(url).status_code == 200
    assert c.post(url, {"nom": "Renommé"}).status_code == 403
    assert c.get(reverse("admin:establishments_discipline_add")).status_code == 403
    assert c.get(reverse("admin:establishments_profil_changelist")).status_code == 403
    assert c.get(reverse("admin:bmp_bmp_change", args=[w.bmp_a.pk])).status_code == 200
    assert c.post(reverse("admin:bmp_bmp_change", args=[w.bmp_a.pk]), {"heures": "1"}).status_code == 403
    w.A.refresh_from_db()
    assert w.A.nom == "Collège A"


def test_a_head_has_no_admin(client, w):
    response = client_de(client, w.head_a).get(reverse("admin:jumelages_jumelage_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- BMPs --------------------------------------------------------------------------------------


def test_the_bmp_list_shows_and_filters_each_state(client, staff, at):
    w = staff
    at(OUVERTE)
    services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    jumelage_direct(w.bmp_c, w.bmp_d)
    BMP.objects.filter(pk=w.bmp_e.pk).update(actif=False)
    c = client_de(client, w.superuser)
    url = reverse("admin:bmp_bmp_changelist")
    etats = {
        "libre": {w.bmp_l.pk},
        "demande": {w.bmp_a.pk, w.bmp_b.pk},
        "jumele": {w.bmp_c.pk, w.bmp_d.pk},
        "retire": {w.bmp_e.pk},
    }
    for etat, attendus in etats.items():
        assert visibles(c, url, etat=etat) == attendus, etat
    # 9, 10, 6, 7, 5, 8 h: by hours too.
    assert visibles(c, url, heures="0-6") == {w.bmp_e.pk}
    assert visibles(c, url, heures="6-12") == {w.bmp_a.pk, w.bmp_b.pk, w.bmp_c.pk, w.bmp_d.pk, w.bmp_l.pk}
    assert visibles(c, url, heures="12-") == set()
    page = c.get(url).content.decode()
    for libelle in ("libre", "demande en cours", "jumelé", "retiré"):
        assert f">{libelle}<" in page


def test_the_history_of_a_bmp_is_on_its_page(client, staff, at):
    w = staff
    at(OUVERTE)
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    services.refuse_request(w.head_b, demande, Motif.QUOTITE_INADAPTEE)
    page = client_de(client, w.agent94).get(reverse("admin:bmp_bmp_change", args=[w.bmp_a.pk])).content.decode()
    assert "Historique" in page
    assert page.index("Demande envoyée") < page.index("Demande refusée")
    assert "Quotité inadaptée" in page


# --- Building a jumelage -----------------------------------------------------------------------


def test_building_shows_totals_distances_and_zones_before_building(client, staff, at):
    w = staff
    at(PREPARATION)
    w.A.latitude, w.A.longitude = Decimal("48.80"), Decimal("2.40")
    w.A.save()
    w.B.latitude, w.B.longitude = Decimal("48.80"), Decimal("2.50")
    w.B.save()
    c = client_de(client, w.agent94)
    url = reverse("admin:jumelages_jumelage_construire")
    # Selected in the BMP list: the form comes pre-filled.
    response = c.post(
        reverse("admin:bmp_bmp_changelist"),
        {"action": "construire_un_jumelage", "_selected_action": [w.bmp_a.pk, w.bmp_b.pk]},
    )
    assert response.status_code == 302 and response["Location"].startswith(url)
    form = c.get(response["Location"]).context["form"]
    assert form.initial["campagne"] == w.campagne.pk
    assert set(form.initial["identifiants"].split()) == {w.bmp_a.identifiant, w.bmp_b.identifiant}

    data = {"campagne": w.campagne.pk, "identifiants": f"{w.bmp_a.identifiant} {w.bmp_b.identifiant}"}
    page = c.post(url, {**data, "verifier": "1"}).content.decode()
    assert "Ces BMP peuvent être jumelés." in page
    assert "Total : 19 h</strong> pour une cible de 18 h (écart +1 h)" in page
    assert "Le total (19 h) dépasse le temps plein de la discipline (18 h)." in page
    assert "7,3 km" in page  # 0.1° of longitude at 48.8° N
    assert "Zone de remplacement : zone non renseignée" in page
    # B holds most hours: it is the default school of attachment.
    assert f'value="{w.B.uai}" id="rattachement_2" checked' in page
    assert not Jumelage.objects.exists()

    zone = ZoneRemplacement.objects.create(code="Z1", libelle="Zone 1")
    zone.communes.add(w.A.commune)
    page = c.post(url, {**data, "verifier": "1"}).content.decode()
    assert "Zone de remplacement : même zone" in page

    response = c.post(url, {**data, "rattachement": w.A.uai, "construire": "1"})
    jumelage = Jumelage.objects.get()
    assert response["Location"] == reverse("admin:jumelages_jumelage_change", args=[jumelage.pk])
    assert jumelage.rattachement == w.A and jumelage.origine == "service"
    evenement = jumelage.evenements.get()
    assert evenement.type == TypeEvenement.JUMELAGE_CREE and evenement.pour_service == w.agent94.profil.service
    assert set(Notification.objects.filter(evenement=evenement).values_list("etablissement", flat=True)) == {
        w.A.pk,
        w.B.pk,
    }


def test_building_lists_every_problem_and_builds_nothing(client, staff, at):
    w = staff
    at(PREPARATION)
    services.build_jumelage(w.agent94, [w.bmp_c, w.bmp_d])
    autre_a = BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.eps, heures=Decimal("4"))
    c = client_de(client, w.agent94)
    url = reverse("admin:jumelages_jumelage_construire")
    ids = " ".join([w.bmp_a.identifiant, autre_a.identifiant, w.bmp_c.identifiant])
    page = c.post(url, {"campagne": w.campagne.pk, "identifiants": ids, "construire": "1"}).content.decode()
    assert "Ce jumelage ne peut pas être construit" in page
    assert "L1300, L1900 diffèrent" in page
    assert "établissements différents" in page
    assert f"Le BMP {w.bmp_c.identifiant} fait déjà partie d&#x27;un jumelage" in page
    assert "Construire le jumelage" not in page
    assert Jumelage.objects.count() == 1

    page = c.post(url, {"campagne": w.campagne.pk, "identifiants": "INCONNU-1 " + w.bmp_a.identifiant}).content
    assert "BMP inconnus dans cette campagne : INCONNU-1." in page.decode()

    # Outside the perimeter: the service's refusal, shown before anything is written.
    ids = f"{w.bmp_a.identifiant} {w.bmp_e.identifiant}"
    page = c.post(url, {"campagne": w.campagne.pk, "identifiants": ids, "construire": "1"}).content.decode()
    assert "n&#x27;est pas dans le périmètre de DSDEN 94" in page
    assert Jumelage.objects.count() == 1


# --- The jumelages' list and actions ----------------------------------------------------------------


def test_the_jumelage_list_shows_gap_zones_origin_and_state(client, staff, at):
    w = staff
    at(PREPARATION)
    j = services.build_jumelage(w.agent94, [w.bmp_c, w.bmp_d])  # 13 h: 5 h under the target
    c = client_de(client, w.agent94)
    url = reverse("admin:jumelages_jumelage_changelist")
    page = c.get(url).content.decode()
    assert "13 h / 18 h (<strong>-5 h</strong>)" in page and '<td class="field-zones">non renseignée</td>' in page
    assert "Construit par un service" in page and ">effectif<" in page
    assert visibles(c, url, ecart="loin") == {j.pk}
    assert visibles(c, url, ecart="atteinte") == set()
    assert visibles(c, url, etat="effectif") == {j.pk}
    assert visibles(c, url, departement="93") == set()


def test_validating_in_bulk_goes_through_the_service(client, staff, at):
    w = staff
    at(PREPARATION)
    j1 = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    j2 = services.build_jumelage(w.agent94, [w.bmp_c, w.bmp_d])
    c = client_de(client, w.agent94)
    url = reverse("admin:jumelages_jumelage_changelist")
    page = c.post(url, {"action": "valider", "_selected_action": [j1.pk, j2.pk]}, follow=True).content.decode()
    assert "la validation des jumelages commence le" in page
    assert not Jumelage.objects.filter(valide=True).exists()
    at(VALIDATION)
    c = client_de(client, w.agent94)  # days later: a new session
    page = c.post(url, {"action": "valider", "_selected_action": [j1.pk, j2.pk]}, follow=True).content.decode()
    assert "2 jumelage(s) validé(s)." in page
    for j in (j1, j2):
        j.refresh_from_db()
        assert j.valide and j.valide_par == w.agent94
        assert j.evenements.filter(type=TypeEvenement.JUMELAGE_VALIDE, pour_service__uai="0949999H").exists()
    assert Notification.objects.filter(type=TypeEvenement.JUMELAGE_VALIDE).count() == 4
    assert visibles(c, url, etat="valide") == {j1.pk, j2.pk}


def test_changing_the_attachment_and_deleting_with_a_motive(client, staff, at):
    w = staff
    at(OUVERTE)
    j = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    assert j.rattachement == w.B
    c = client_de(client, w.agent94)
    response = c.post(reverse("admin:jumelages_jumelage_rattachement", args=[j.pk]), {"etablissement": w.A.pk})
    assert response.status_code == 302
    j.refresh_from_db()
    assert j.rattachement == w.A
    assert j.evenements.filter(type=TypeEvenement.RATTACHEMENT_MODIFIE).exists()

    url = reverse("admin:jumelages_jumelage_supprimer", args=[j.pk])
    page = c.post(url, {"motif": Motif.AUTRE, "commentaire": ""}).content.decode()
    assert "commentaire" in page.lower()
    j.refresh_from_db()
    assert j.actif
    c.post(url, {"motif": Motif.ZONES_DIFFERENTES, "commentaire": ""})
    j.refresh_from_db()
    assert not j.actif and j.motif_suppression == Motif.ZONES_DIFFERENTES
    suppression = j.evenements.get(type=TypeEvenement.JUMELAGE_SUPPRIME)
    assert suppression.pour_service.uai == "0949999H" and suppression.auteur == w.agent94
    assert Notification.objects.filter(evenement=suppression).count() == 2


def test_pending_requests_by_deadline(client, staff, at):
    w = staff
    at(OUVERTE)
    tot = pending(w.bmp_a, w.bmp_b, envoyee_le=OUVERTE - datetime.timedelta(hours=60))  # 12 h left
    tard = pending(w.bmp_c, w.bmp_d, envoyee_le=OUVERTE - datetime.timedelta(hours=10))  # 62 h left
    passee = pending(w.bmp_e, w.bmp_l, envoyee_le=OUVERTE - datetime.timedelta(hours=80))
    url = reverse("admin:jumelages_demande_changelist")
    c = client_de(client, w.superuser)
    assert visibles(c, url, echeance="24h") == {tot.pk}
    assert visibles(c, url, echeance="72h") == {tot.pk, tard.pk}
    assert visibles(c, url, echeance="depassee") == {passee.pk}
    assert visibles(c, url, etat__exact=EtatDemande.EN_ATTENTE) == {tot.pk, tard.pk, passee.pk}
    assert Demande.objects.count() == 3


# --- Campaigns ---------------------------------------------------------------------------------


def test_preparing_next_years_campaign(client, staff):
    w = staff
    c = client_de(client, w.agent93)
    url = reverse("admin:bmp_campagne_changelist")
    assert f">{w.campagne.phase.label}<" in c.get(url).content.decode()
    page = c.post(url, {"action": "preparer_campagne_suivante", "_selected_action": [w.campagne.pk]}, follow=True)
    suivante = Campagne.objects.get(annee=w.campagne.annee + 1)
    assert suivante.date_ouverture == datetime.date(w.campagne.annee + 1, 6, 17)
    assert "est créée avec le calendrier habituel" in page.content.decode()
    page = c.post(url, {"action": "preparer_campagne_suivante", "_selected_action": [w.campagne.pk]}, follow=True)
    assert "existe déjà : rien n&#x27;a été modifié" in page.content.decode()

    form = c.get(reverse("admin:bmp_campagne_add")).context["adminform"].form
    assert form.initial["annee"] == w.campagne.annee + 2
    assert form.initial["date_ouverture"] == datetime.date(w.campagne.annee + 2, 6, 17)


def test_campaign_dates_out_of_order_are_refused_in_french(client, staff):
    w = staff
    c = client_de(client, w.superuser)
    annee = w.campagne.annee + 5
    response = c.post(
        reverse("admin:bmp_campagne_add"),
        {
            "annee": annee,
            "date_ouverture": f"17/06/{annee}",
            "date_cloture": f"10/06/{annee}",
            "date_fin_validation": f"28/06/{annee}",
            "date_debut_consultation": f"28/06/{annee}",
            "date_fin_consultation": f"01/09/{annee}",
        },
    )
    page = response.content.decode()
    assert "La clôture ne peut pas précéder l&#x27;ouverture." in page
    assert "La consultation doit commencer après la fin de la validation." in page
    assert not Campagne.objects.filter(annee=annee).exists()


# --- Constant queries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["admin:jumelages_jumelage_changelist", "admin:bmp_bmp_changelist", "admin:jumelages_demande_changelist"]
)
def test_the_lists_cost_the_same_queries_whatever_their_size(client, staff, at, django_assert_max_num_queries, name):
    w = staff
    at(OUVERTE)
    c = client_de(client, w.agent94)
    url = reverse(name)

    def ajouter(n):
        for i in range(n):
            ecoles = [
                EtablissementFactory(nom=f"Collège {n}-{i}-{k}", commune=CommuneFactory(departement=w.A.departement))
                for k in range(2)
            ]
            bmps = [BMPFactory(campagne=w.campagne, etablissement=e, discipline=w.maths) for e in ecoles]
            jumelage_direct(*bmps)
            pending(BMPFactory(campagne=w.campagne, etablissement=ecoles[0], discipline=w.eps), bmps[1])

    ajouter(2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as petit:
        assert c.get(url).status_code == 200
    ajouter(8)
    with django_assert_max_num_queries(len(petit.captured_queries)):
        assert c.get(url).status_code == 200


def test_the_admin_index_leads_to_the_dashboard_exports_and_building(client, staff):
    page = client_de(client, staff.agent94).get(reverse("admin:index")).content.decode()
    for url in (reverse("dos:tableau_de_bord"), reverse("dos:exports"), reverse("admin:jumelages_jumelage_construire")):
        assert f'href="{url}"' in page
