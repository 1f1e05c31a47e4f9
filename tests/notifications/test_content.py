"""What the mails say (the instruction's wording).

"Lorsqu'un jumelage a été refusé ou supprimé, le mail … contient la mention : « un jumelage a
été refusé/supprimé par Nom-Prénom de l'auteur (RNE de l'établissement) »", the service's
UAI when a DOS agent acted, with the motive and comment. Every mail is
multipart/alternative, in French, from templates, its plain text carrying the whole message.
"""

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from jumelages import services
from jumelages.enums import Motif
from notifications.enums import TypeNotification
from notifications.models import Notification
from tests.factories import BMPFactory, head_of
from tests.jumelages.monde import jumelage_direct, paris

from .conftest import by_address, html_text, parsed, plain_text

pytestmark = pytest.mark.django_db

COMMENT = "Trop loin : 45 km & aucune ligne <directe>.\nÀ revoir l'an prochain."


def test_a_refusal_names_its_author_his_school_the_motive_and_the_comment_in_every_copy(w, ouverte, operation):
    head = head_of(w.B, first_name="Anne-Marie", last_name="de la Fontaine")
    jumelage = jumelage_direct(w.bmp_b, w.bmp_c)
    demande = services.send_request(w.head_a, w.bmp_a, jumelage)
    _, mails = operation(services.refuse_request, head, demande, Motif.AUTRE, COMMENT)
    assert len(mails) == 3
    for message in mails:
        text = plain_text(message)
        assert f"un jumelage a été refusé par Anne-Marie DE LA FONTAINE ({w.B.uai})" in text
        assert "Motif : Autre\n" in text
        assert f"Commentaire : {COMMENT}\n" in text
        html = html_text(message)
        assert f"un jumelage a été refusé par Anne-Marie DE LA FONTAINE ({w.B.uai})" in html
        assert "Trop loin : 45 km &amp; aucune ligne &lt;directe&gt;." in html
        assert "<directe>" not in html


def test_a_refusal_by_a_dos_agent_carries_the_services_uai(w, ouverte, operation):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    _, mails = operation(services.refuse_request, w.agent94, demande, Motif.ZONES_DIFFERENTES)
    for message in mails:
        text = plain_text(message)
        assert "un jumelage a été refusé par Agent QUATRE-VINGT-QUATORZE (0949999H)" in text
        assert "Motif : Zones de remplacement différentes\n" in text


def test_a_deletion_names_its_author_his_school_and_the_motive_in_every_copy(w, ouverte, operation):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b, w.bmp_c)
    _, mails = operation(services.delete_jumelage, w.head_c, jumelage, Motif.QUOTITE_INADAPTEE, "Total trop élevé")
    assert len(mails) == 3
    for message in mails:
        text = plain_text(message)
        assert f"un jumelage a été supprimé par Chef C ({w.C.uai})" in text
        assert "Motif : Quotité inadaptée\n" in text
        assert "Commentaire : Total trop élevé\n" in text
        assert f"Jumelage n° {jumelage.pk} – L1300 – MATHEMATIQUES" in text


def test_a_deletion_by_the_rectorat_carries_its_uai(w, ouverte, operation):
    lycee_bmp = BMPFactory(campagne=w.campagne, etablissement=w.L, discipline=w.maths)
    from establishments.enums import TypeEtablissement
    from tests.factories import EtablissementFactory

    other = EtablissementFactory(nom="Lycée M", commune=w.L.commune, type=TypeEtablissement.LP)
    jumelage = jumelage_direct(lycee_bmp, BMPFactory(campagne=w.campagne, etablissement=other, discipline=w.maths))
    _, mails = operation(services.delete_jumelage, w.rectorat, jumelage, Motif.AUTRE, "Doublon")
    assert {m.to[0] for m in mails} == {w.L.adresse_mail, other.adresse_mail}
    for message in mails:
        assert "un jumelage a été supprimé par Agent RECTORAT (0941295X)" in plain_text(message)


def test_every_mail_is_multipart_alternative_with_the_whole_message_in_plain_text(w, at, operation):
    at(paris(2024, 6, 20, 14, 5))
    demande, mails = operation(services.send_request, w.head_a, w.bmp_a, w.bmp_b)
    message = by_address(mails)[w.B.adresse_mail]
    received = parsed(message)
    assert received.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in received.iter_parts()] == ["text/plain", "text/html"]
    assert received["From"] == django_settings.DEFAULT_FROM_EMAIL
    assert received["To"] == w.B.adresse_mail
    assert (
        received["Subject"].strip() == f"JUMO – Vous avez reçu une demande de jumelage (L1300) de Collège A ({w.A.uai})"
    )
    text = plain_text(message)
    assert text == (
        "Bonjour,\n"
        "\n"
        f"Vous avez reçu une demande de jumelage de Collège A ({w.A.uai}). Elle a été envoyée par "
        f"Chef A ({w.A.uai}).\n"
        "\n"
        "Vous avez jusqu'au 23 juin 2024 à 14 h 05 pour l'accepter ou la refuser dans JUMO ; sans réponse, "
        "elle expirera automatiquement.\n"
        "\n"
        "Discipline : L1300 – MATHEMATIQUES\n"
        f"BMP demandeur : {w.bmp_a.identifiant}, 9 h – Collège A ({w.A.uai})\n"
        f"BMP demandé : {w.bmp_b.identifiant}, 10 h – Collège B ({w.B.uai}) (votre établissement)\n"
        "Total des deux BMP : 19 h (temps plein de la discipline : 18 h)\n"
        "Échéance de la réponse : 23 juin 2024 à 14 h 05\n"
        "\n"
        "Date de l'opération : 20 juin 2024 à 14 h 05\n"
        f"Pour consulter la demande dans JUMO : http://127.0.0.1:8000/demandes/{demande.pk}/\n"
        "\n"
        "--\n"
        "Message automatique de JUMO, l'application de jumelage des blocs de moyens provisoires (BMP), adressé à "
        f"Collège B ({w.B.uai}) sur sa boîte {w.B.adresse_mail}. Merci de ne pas y répondre : pour toute question, "
        "contactez votre gestionnaire de moyens (DSDEN pour les collèges, DOS du rectorat pour les lycées).\n"
    )
    html = html_text(message)
    assert "<p>Vous avez reçu une demande de jumelage de Collège A" in html
    assert f'href="http://127.0.0.1:8000/demandes/{demande.pk}/"' in html
    assert "23 juin 2024 à 14 h 05" in html


def test_the_requester_is_told_its_request_left_and_until_when_the_other_school_may_answer(w, at, operation):
    at(paris(2024, 6, 20, 23, 59))
    _, mails = operation(services.send_request, w.head_a, w.bmp_a, w.bmp_b)
    text = plain_text(by_address(mails)[w.A.adresse_mail])
    assert f"Votre demande de jumelage a bien été envoyée à Collège B ({w.B.uai})." in text
    assert "L'établissement destinataire a jusqu'au 23 juin 2024 à 23 h 59 pour répondre" in text
    assert f"(votre établissement)\nBMP demandé : {w.bmp_b.identifiant}, 10 h – Collège B" in text


def test_the_links_use_the_base_url_setting(w, ouverte, operation, settings):
    settings.JUMO_BASE_URL = "https://jumo.ac-creteil.fr/"
    demande, mails = operation(services.send_request, w.head_a, w.bmp_a, w.bmp_b)
    assert f"https://jumo.ac-creteil.fr/demandes/{demande.pk}/\n" in plain_text(mails[0])
    jumelage, mails = operation(services.accept_request, w.head_b, demande)
    assert f"Pour consulter le jumelage dans JUMO : https://jumo.ac-creteil.fr/jumelages/{jumelage.pk}/\n" in (
        plain_text(mails[0])
    )


def test_an_accepted_request_shows_the_jumelage_its_hours_total_and_rattachement(w, ouverte, operation):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    jumelage, mails = operation(services.accept_request, w.head_b, demande)
    text = plain_text(by_address(mails)[w.A.adresse_mail])
    assert f"Votre demande de jumelage à Collège B ({w.B.uai}) a été acceptée par Chef B ({w.B.uai})." in text
    assert (
        f"Jumelage n° {jumelage.pk} – L1300 – MATHEMATIQUES\n"
        f"- Collège A ({w.A.uai}) : BMP {w.bmp_a.identifiant}, 9 h (votre établissement)\n"
        f"- Collège B ({w.B.uai}) : BMP {w.bmp_b.identifiant}, 10 h\n"
        "Total : 19 h (temps plein de la discipline : 18 h), au-dessus du temps plein\n"
        f"Établissement de rattachement : Collège B ({w.B.uai})\n"
    ) in text


def test_eps_hours_are_measured_against_twenty(w, ouverte, operation):
    a = BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.eps, heures="9.5")
    b = BMPFactory(campagne=w.campagne, etablissement=w.B, discipline=w.eps, heures="10")
    _, mails = operation(services.send_request, w.head_a, a, b)
    assert "Total des deux BMP : 19,5 h (temps plein de la discipline : 20 h)\n" in plain_text(mails[0])
    assert "Discipline : L1900 – EPS\n" in plain_text(mails[0])


def test_a_jumelage_built_by_a_service_says_it_is_effective_as_it_is(w, ouverte, operation):
    jumelage, mails = operation(services.build_jumelage, w.agent94, [w.bmp_a, w.bmp_b])
    text = plain_text(by_address(mails)[w.A.adresse_mail])
    assert (
        f"Le jumelage n° {jumelage.pk} a été construit par Agent QUATRE-VINGT-QUATORZE (0949999H), pour DSDEN 94"
    ) in text
    assert "Ce jumelage est effectif tel quel : s'il vous convient, vous n'avez rien à faire." in text


def test_a_caduque_request_gives_its_reason(w, ouverte, operation):
    taken = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    services.send_request(w.head_c, w.bmp_c, w.bmp_b)
    _, mails = operation(services.accept_request, w.head_b, taken)
    caduque = [m for m in mails if m.to == [w.C.adresse_mail]]
    assert len(caduque) == 1
    assert (
        f"Votre demande de jumelage à Collège B ({w.B.uai}) est devenue caduque : "
        f"le BMP {w.bmp_b.identifiant} fait désormais partie d'un jumelage."
    ) in plain_text(caduque[0])


def test_each_mail_carries_its_rows_own_message_id_on_the_stable_domain(w, ouverte, operation):
    _, mails = operation(services.send_request, w.head_a, w.bmp_a, w.bmp_b)
    rows = {n.adresse: n.message_id for n in Notification.objects.all()}
    assert len(set(rows.values())) == 2
    for message in mails:
        assert parsed(message)["Message-ID"] == rows[message.to[0]]
        assert rows[message.to[0]].endswith("@jumo.ac-creteil.fr>")


def test_the_text_is_written_once_and_kept_on_the_row(w, ouverte, operation):
    _, mails = operation(services.send_request, w.head_a, w.bmp_a, w.bmp_b)
    row = Notification.objects.get(adresse=w.B.adresse_mail)
    message = by_address(mails)[w.B.adresse_mail]
    assert (row.sujet, row.texte) == (message.subject, message.body)
    assert row.titre == row.sujet


@pytest.mark.parametrize("type_notification", TypeNotification.values)
def test_every_kind_of_mail_has_its_subject_text_and_html_templates(type_notification):
    folder = Path(django_settings.BASE_DIR) / "templates" / "notifications" / "mails" / type_notification
    assert sorted(p.name for p in folder.iterdir()) == ["body.html", "body.txt", "subject.txt"]


def test_names_are_written_verbatim_in_the_text_and_escaped_in_the_html(w, ouverte, operation):
    w.B.nom = "Collège Jean d'Arc & Lumière"
    w.B.save()
    _, mails = operation(services.send_request, w.head_a, w.bmp_a, w.bmp_b)
    message = by_address(mails)[w.A.adresse_mail]
    assert (
        message.subject
        == f"JUMO – Votre demande de jumelage (L1300) a été envoyée à Collège Jean d'Arc & Lumière ({w.B.uai})"
    )
    assert f"envoyée à Collège Jean d'Arc & Lumière ({w.B.uai})." in plain_text(message)
    assert "Collège Jean d&#x27;Arc &amp; Lumière" in html_text(message)


def test_a_new_rattachement_names_the_new_and_the_former_school(w, ouverte, operation):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    _, mails = operation(services.set_rattachement, w.agent94, jumelage, w.B)
    assert (
        f"L'établissement de rattachement du jumelage n° {jumelage.pk} est désormais Collège B ({w.B.uai}) "
        f"(auparavant Collège A ({w.A.uai})). Modification faite par Agent QUATRE-VINGT-QUATORZE (0949999H)."
    ) in plain_text(mails[0])


def test_a_closing_event_concerning_schools_would_be_mailed_too(w, ouverte, operation):
    """The closing event concerns no school today; should the workflow name some, they get a mail."""
    from jumelages.enums import TypeEvenement
    from jumelages.models import Evenement
    from notifications.services import notifier

    evenement = Evenement.objects.create(
        type=TypeEvenement.CAMPAGNE_CLOTUREE,
        campagne=w.campagne,
        commentaire="la campagne est close aux établissements depuis le 27 juin 2024 à 00 h 00",
    )
    evenement.etablissements_concernes.add(w.A)
    evenement.etablissement_ids = [w.A.pk]
    _, mails = operation(notifier, [evenement])
    assert [m.subject for m in mails] == ["JUMO – Campagne 2024 close aux établissements"]
    assert (
        "La campagne 2024 est close aux établissements : la campagne est close aux établissements depuis le "
        "27 juin 2024 à 00 h 00." in plain_text(mails[0])
    )
