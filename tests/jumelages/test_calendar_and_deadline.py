"""The clock, frozen: the 72-hour deadline and each boundary of the 2024 calendar (Paris time)."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from jumelages import services
from jumelages.enums import EtatDemande, Motif, TypeEvenement
from jumelages.services import WorkflowError

from .monde import jumelage_direct, paris

pytestmark = pytest.mark.django_db

SENT = paris(2024, 6, 18, 10, 0)
DEADLINE = paris(2024, 6, 21, 10, 0)
JUST_BEFORE = DEADLINE - datetime.timedelta(seconds=1)
EXPIRED = "Cette demande a expiré le 21 juin 2024 à 10 h 00 : le délai de réponse est dépassé."


@pytest.fixture
def demande(w, at):
    at(SENT)
    return services.send_request(w.head_a, w.bmp_a, w.bmp_b)


def test_the_deadline_is_72_hours_after_sending(demande):
    assert demande.echeance == DEADLINE


def test_a_request_can_be_accepted_until_the_last_second(w, at, demande):
    at(JUST_BEFORE)
    assert services.accept_request(w.head_b, demande).actif


def test_a_request_can_be_refused_until_the_last_second(w, at, demande):
    at(JUST_BEFORE)
    services.refuse_request(w.head_b, demande, Motif.QUOTITE_INADAPTEE)
    assert demande.etat == EtatDemande.REFUSEE


@pytest.mark.parametrize(
    "answer",
    [
        lambda w, d: services.accept_request(w.head_b, d),
        lambda w, d: services.refuse_request(w.head_b, d, Motif.QUOTITE_INADAPTEE),
        lambda w, d: services.cancel_request(w.head_a, d),
    ],
    ids=["accept", "refuse", "cancel"],
)
def test_past_its_deadline_a_request_cannot_be_answered_even_before_the_expiry_task(w, at, demande, answer):
    at(DEADLINE)
    assert demande.etat_effectif == EtatDemande.EXPIREE
    with pytest.raises(WorkflowError) as error:
        answer(w, demande)
    assert str(error.value) == EXPIRED
    # marked expired on the spot, with its event, and the refusal committed nothing else
    assert demande.etat == EtatDemande.EXPIREE and demande.terminee_le == DEADLINE
    assert [e.type for e in demande.evenements.order_by("pk")] == [
        TypeEvenement.DEMANDE_ENVOYEE,
        TypeEvenement.DEMANDE_EXPIREE,
    ]
    with pytest.raises(WorkflowError) as error:
        answer(w, demande)
    assert str(error.value) == EXPIRED


def test_the_expiry_sweep_takes_the_request_exactly_at_its_deadline(demande, at):
    at(JUST_BEFORE)
    assert demande.etat_effectif == EtatDemande.EN_ATTENTE
    assert services.expire_overdue() == 0
    at(DEADLINE)
    assert services.expire_overdue() == 1
    demande.refresh_from_db()
    assert demande.etat == EtatDemande.EXPIREE


# --- Calendar boundaries -------------------------------------------------------------------


def test_heads_cannot_act_on_16_june_at_23_59_but_can_at_midnight(w, at):
    at(paris(2024, 6, 16, 23, 59))
    with pytest.raises(WorkflowError) as error:
        services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    assert str(error.value) == (
        "La campagne est en phase de préparation : les établissements ne peuvent pas encore agir, "
        "la campagne ouvre le 17 juin 2024 à 00 h 00."
    )
    at(paris(2024, 6, 17, 0, 0))
    assert services.send_request(w.head_a, w.bmp_a, w.bmp_b).etat == EtatDemande.EN_ATTENTE


def test_heads_act_until_26_june_at_23_59_and_not_on_27_june(w, at):
    at(paris(2024, 6, 26, 23, 0))
    first = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    second = services.send_request(w.head_c, w.bmp_c, w.bmp_d)
    at(paris(2024, 6, 26, 23, 59, 59))
    services.accept_request(w.head_b, first)
    at(paris(2024, 6, 27, 0, 0))
    with pytest.raises(WorkflowError) as error:
        services.accept_request(w.head_d, second)
    assert str(error.value) == (
        "La campagne est en phase de validation : les établissements ne peuvent plus modifier les jumelages "
        "depuis le 27 juin 2024 à 00 h 00."
    )


def test_services_build_until_26_june_and_validate_from_27_june(w, at):
    at(paris(2024, 6, 26, 23, 59))
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    with pytest.raises(WorkflowError) as error:
        services.validate_jumelage(w.agent94, jumelage)
    assert (
        str(error.value) == "La campagne est ouverte : la validation des jumelages commence le 27 juin 2024 à 00 h 00."
    )
    at(paris(2024, 6, 27, 0, 0))
    with pytest.raises(WorkflowError) as error:
        services.build_jumelage(w.agent94, [w.bmp_c, w.bmp_d])
    assert str(error.value) == (
        "La campagne est en phase de validation : les jumelages ne peuvent plus être modifiés depuis "
        "le 27 juin 2024 à 00 h 00, seulement validés jusqu'au 1er juillet 2024 à 00 h 00."
    )
    services.validate_jumelage(w.agent94, jumelage)
    assert jumelage.valide


def test_validation_lasts_through_30_june_and_ends_on_1_july(w, at):
    first, second = jumelage_direct(w.bmp_a, w.bmp_b), jumelage_direct(w.bmp_c, w.bmp_d)
    at(paris(2024, 6, 30, 23, 59))
    services.validate_jumelage(w.agent94, first)
    at(paris(2024, 7, 1, 0, 0))
    with pytest.raises(WorkflowError) as error:
        services.validate_jumelage(w.agent94, second)
    assert str(error.value) == (
        "La campagne est en phase de consultation : la validation des jumelages est close depuis "
        "le 1er juillet 2024 à 00 h 00."
    )


def test_consultation_lasts_through_1_september_then_heads_lose_access(w, at):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    at(paris(2024, 9, 1, 23, 59))
    with pytest.raises(WorkflowError) as error:
        services.delete_jumelage(w.head_a, jumelage, Motif.QUOTITE_INADAPTEE)
    assert str(error.value) == (
        "La campagne est en phase de consultation : les établissements ne peuvent plus modifier les jumelages "
        "depuis le 27 juin 2024 à 00 h 00."
    )
    at(paris(2024, 9, 2, 0, 0))
    with pytest.raises(WorkflowError) as error:
        services.delete_jumelage(w.head_a, jumelage, Motif.QUOTITE_INADAPTEE)
    assert str(error.value) == (
        "La campagne est archivée : les établissements n'y ont plus accès depuis le 2 septembre 2024 à 00 h 00."
    )


def test_a_boundary_is_paris_midnight_not_utc(w, at):
    at(datetime.datetime(2024, 6, 16, 21, 59, tzinfo=datetime.UTC))  # 23:59 in Paris
    with pytest.raises(WorkflowError):
        services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    at(datetime.datetime(2024, 6, 16, 22, 0, tzinfo=datetime.UTC))  # midnight in Paris
    assert services.send_request(w.head_a, w.bmp_a, w.bmp_b)


# --- campaign_phase ----------------------------------------------------------------------


def phase(*args) -> str:
    out = StringIO()
    call_command("campaign_phase", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        ("2024-06-16T23:59", "préparation"),
        ("2024-06-17T00:00", "ouverte"),
        ("2024-06-26T23:59", "ouverte"),
        ("2024-06-27T00:00", "validation"),
        ("2024-06-30T23:59", "validation"),
        ("2024-07-01T00:00", "consultation"),
        ("2024-09-01T23:59", "consultation"),
        ("2024-09-02T00:00", "archivée"),
        ("2024-06-16T22:00:00+00:00", "ouverte"),
        ("2024-06-16T21:59:00Z", "préparation"),
    ],
)
def test_campaign_phase_prints_the_phase_at_an_instant_naive_meaning_paris(campagne, instant, expected):
    assert phase("2024", "--at", instant) == f"{expected}\n"


def test_campaign_phase_uses_now_by_default(campagne, at):
    at(paris(2024, 6, 20, 9, 0))
    assert phase("2024") == "ouverte\n"


def test_campaign_phase_of_an_unknown_year_is_a_clear_error(campagne):
    with pytest.raises(CommandError, match="^Aucune campagne pour la rentrée 2031.$"):
        phase("2031")


def test_campaign_phase_refuses_a_malformed_instant(campagne):
    with pytest.raises(CommandError, match="n'est pas une date ISO 8601"):
        phase("2024", "--at", "17/06/2024")


def test_campaign_phase_exits_non_zero_on_an_unknown_year(campagne, capsys):
    with pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(["manage.py", "campaign_phase", "2031"])
    assert exit_info.value.code != 0
    assert "Aucune campagne pour la rentrée 2031." in capsys.readouterr().err
