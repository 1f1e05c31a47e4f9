import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from establishments.models import Profil
from tests.factories import EtablissementFactory, valid_uai

pytestmark = pytest.mark.django_db


def test_create_account_for_a_head_of_two_schools_is_idempotent(capsys):
    college = EtablissementFactory(uai=valid_uai(11))
    lycee = EtablissementFactory(uai=valid_uai(12))
    args = ["chef@example.org", "--uai", college.uai, "--uai", lycee.uai.lower(), "--password", "Secret-123456"]
    call_command("create_account", *args, "--nom", "Dupont", "--prenom", "Marie")
    call_command("create_account", *args)

    user = get_user_model().objects.get(username="chef@example.org")
    assert user.email == "chef@example.org"
    assert user.get_full_name() == "Marie DUPONT"
    assert user.check_password("Secret-123456")
    assert not user.is_staff
    assert set(user.profil.etablissements.values_list("uai", flat=True)) == {college.uai, lycee.uai}
    assert Profil.objects.count() == 1
    assert "mis à jour" in capsys.readouterr().out


def test_create_account_for_an_agent_gives_the_admin_and_the_service():
    call_command("create_account", "agent@example.org", "--service", "0939999N")
    user = get_user_model().objects.get(username="agent@example.org")
    assert user.is_staff
    assert user.profil.service.nom == "DSDEN 93"
    assert user.groups.filter(name="Gestionnaires DOS").exists()
    assert user.has_usable_password()


def test_create_account_prints_a_generated_password_for_a_new_account(capsys):
    college = EtablissementFactory(uai=valid_uai(13))
    call_command("create_account", "new@example.org", "--uai", college.uai)
    out = capsys.readouterr().out
    password = out.split("Mot de passe généré : ")[1].strip()
    assert get_user_model().objects.get(username="new@example.org").check_password(password)


@pytest.mark.parametrize(
    ("uai", "message"),
    [
        ("0941295Y", "lettre clé erronée : la lettre attendue est « X »"),
        ("94129", "il faut 7 chiffres suivis d'une lettre"),
        ("0941296" + "ABCDEFGHJKLMNPRSTUVWXYZ"[941296 % 23], "Aucun établissement ne porte l'UAI"),
    ],
)
def test_create_account_refuses_an_invalid_or_unknown_uai_and_creates_nothing(uai, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_account", "chef@example.org", "--uai", uai)
    assert not get_user_model().objects.exists()


def test_create_account_refuses_an_unknown_service():
    with pytest.raises(CommandError, match="Aucun service ne porte l'UAI « 0941296Y »"):
        call_command("create_account", "agent@example.org", "--service", "0941296Y")
    assert not get_user_model().objects.exists()


def test_mailbox_is_derived_from_the_uai_and_the_domain_setting(settings):
    school = EtablissementFactory(uai="0930043S")
    assert school.adresse_mail == "ce.0930043s@ac-creteil.fr"
    settings.ACADEMIE_MAIL_DOMAIN = "ac-versailles.fr"
    assert school.adresse_mail == "ce.0930043s@ac-versailles.fr"
