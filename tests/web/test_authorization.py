"""Authorization on the server for every page and every action (issue 6, "Rules").

A user sees and acts only for his schools: the test walks every URL of the web app, with the
real ids of another school's objects, and expects a refusal (403 or 404) for GET and POST.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from jumelages import services as workflow
from notifications.models import Notification
from tests.factories import BMPFactory, EtablissementFactory, UserFactory, head_of
from tests.jumelages.monde import jumelage_direct

pytestmark = pytest.mark.django_db

PUBLIC = {"connexion", "deconnexion", "accessibilite", "mentions_legales", "donnees_personnelles", "plan_du_site"}


def web_patterns() -> list[URLPattern]:
    for resolver in get_resolver().url_patterns:
        if isinstance(resolver, URLResolver) and resolver.namespace == "web":
            return list(resolver.url_patterns)
    raise AssertionError("the web app's URLs are not included")


def _objects_of_a_and_b(w):
    """Objects that concern schools A and B only."""
    demande = workflow.send_request(w.head_a, w.bmp_a, w.bmp_b)
    jumelage = jumelage_direct(w.bmp_c, w.bmp_d)
    notification = Notification.objects.filter(etablissement=w.B).first()
    assert notification is not None, "sending a request notifies the requested school"
    return {
        "bmp_pk": w.bmp_a.pk,
        "cible_pk": w.bmp_b.pk,
        "demande_pk": demande.pk,
        "jumelage_pk": jumelage.pk,
        "notification_pk": notification.pk,
    }


def test_every_url_of_another_school_is_refused(client, w, ouverte):
    ids = _objects_of_a_and_b(w)
    client.force_login(w.head_e)
    checked = 0
    for pattern in web_patterns():
        names = list(pattern.pattern.converters)
        if not names:
            continue
        url = reverse(f"web:{pattern.name}", kwargs={name: ids[name] for name in names})
        for method in (client.get, client.post):
            response = method(url, {"motif": "autre", "commentaire": "x", "trois": "on"})
            assert response.status_code in (403, 404), (method.__name__, url, response.status_code)
            checked += 1
    assert checked >= 2 * 10
    # Nothing changed: the request is still pending, the jumelage active.
    assert workflow.Demande.objects.get(pk=ids["demande_pk"]).etat == "en_attente"
    assert workflow.Jumelage.objects.get(pk=ids["jumelage_pk"]).actif


def test_pages_without_ids_show_only_the_users_own_school(client, w, ouverte):
    _objects_of_a_and_b(w)
    client.force_login(w.head_e)
    for pattern in web_patterns():
        if pattern.pattern.converters or pattern.name in PUBLIC or pattern.name == "deconnexion":
            continue
        response = client.get(reverse(f"web:{pattern.name}"))
        assert response.status_code in (200, 405), pattern.name
        page = response.content.decode()
        for school in (w.A, w.B, w.C, w.D):
            assert school.uai not in page, (pattern.name, school.uai)


def test_anonymous_users_are_sent_to_the_login_page(client, w, ouverte):
    ids = _objects_of_a_and_b(w)
    for pattern in web_patterns():
        if pattern.name in PUBLIC:
            continue
        names = list(pattern.pattern.converters)
        url = reverse(f"web:{pattern.name}", kwargs={name: ids[name] for name in names})
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("web:connexion") + "?next="), url


def test_public_pages_need_no_login(client, db):
    for name in PUBLIC - {"deconnexion"}:
        assert client.get(reverse(f"web:{name}")).status_code == 200, name


def test_a_user_without_a_school_is_refused(client, w, ouverte):
    client.force_login(UserFactory())
    assert client.get(reverse("web:accueil")).status_code == 403
    client.force_login(w.agent94)
    # An agent's home is the DOS dashboard; the heads' other pages tell him where to go.
    assert client.get(reverse("web:accueil"))["Location"] == reverse("dos:tableau_de_bord")
    response = client.get(reverse("web:demandes"))
    assert response.status_code == 403
    assert f'href="{reverse("dos:tableau_de_bord")}"' in response.content.decode()


def test_the_partner_page_refuses_a_target_the_search_would_not_show(client, w, ouverte):
    other_discipline = BMPFactory(campagne=w.campagne, etablissement=w.B, discipline=w.eps)
    mine = BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.maths)
    client.force_login(w.head_a)
    assert client.get(reverse("web:proposer", args=[w.bmp_a.pk, other_discipline.pk])).status_code == 404
    assert client.get(reverse("web:proposer", args=[w.bmp_a.pk, mine.pk])).status_code == 404
    assert client.get(reverse("web:proposer", args=[w.bmp_a.pk, w.bmp_b.pk])).status_code == 200


def test_a_cite_scolaire_head_opening_a_link_of_his_other_school_acts_for_it(client, w, ouverte):
    lycee = EtablissementFactory(nom="Lycée de la cité", commune=w.A.commune)
    head = head_of(w.A, lycee, first_name="Chef", last_name="Cité")
    bmp = BMPFactory(campagne=w.campagne, etablissement=lycee, discipline=w.maths)
    client.force_login(head)
    assert f"Vous agissez pour <strong>{w.A.nom}" not in client.get(reverse("web:accueil")).content.decode()
    page = client.get(reverse("web:partenaires", args=[bmp.pk])).content.decode()
    assert f"Vous agissez maintenant pour {lycee.nom} ({lycee.uai})" in page
    assert client.session["jumo_etablissement_id"] == lycee.pk


def test_the_school_switch_accepts_only_the_users_schools(client, w, ouverte):
    lycee = EtablissementFactory(nom="Lycée de la cité", commune=w.A.commune)
    head = head_of(w.A, lycee)
    client.force_login(head)
    response = client.post(reverse("web:choisir_etablissement"), {"etablissement": lycee.pk, "next": "/demandes/"})
    assert response.status_code == 302 and response["Location"] == "/demandes/"
    page = client.get(reverse("web:accueil")).content.decode()
    assert f'<option value="{lycee.pk}" selected>' in page
    assert "Lycée de la cité" in page
    client.post(reverse("web:choisir_etablissement"), {"etablissement": w.B.pk})
    assert client.session["jumo_etablissement_id"] == lycee.pk
    assert client.get(reverse("web:choisir_etablissement")).status_code == 405


def test_the_switch_never_redirects_off_site(client, w, ouverte):
    lycee = EtablissementFactory(nom="Lycée de la cité", commune=w.A.commune)
    client.force_login(head_of(w.A, lycee))
    response = client.post(
        reverse("web:choisir_etablissement"), {"etablissement": w.A.pk, "next": "https://ailleurs.example/"}
    )
    assert response["Location"] == reverse("web:accueil")


def test_login_and_logout(client, w, ouverte):
    page = client.get(reverse("web:connexion")).content.decode()
    assert 'for="id_username"' in page and 'for="id_password"' in page
    response = client.post(reverse("web:connexion"), {"username": w.head_a.username, "password": "faux"})
    assert response.status_code == 200
    assert "Identifiant ou mot de passe incorrect" in response.content.decode()
    response = client.post(reverse("web:connexion"), {"username": w.head_a.username, "password": "motdepasse-de-test"})
    assert response.status_code == 302 and response["Location"] == reverse("web:accueil")
    assert "Vous agissez pour" in client.get(reverse("web:accueil")).content.decode()
    assert client.post(reverse("web:deconnexion")).status_code == 302
    assert client.get(reverse("web:accueil")).status_code == 302
