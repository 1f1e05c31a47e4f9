"""The reminder before a request ends (our addition to the notification rules).

The school(s) that must answer a pending request are reminded JUMO_RAPPEL_AVANT_ECHEANCE_HEURES
(24) hours before it ends — its deadline, or the closing of the campaign if that comes
first — by a periodic sweep, at most once per request and school; a setting turns it off.
"""

import datetime

import pytest
from django.core import mail
from django.db import IntegrityError, transaction

from jumelages import services as workflow
from jumelages.enums import Motif
from notifications import services
from notifications.enums import RAPPEL_ECHEANCE, StatutEnvoi
from notifications.models import Notification
from tests.jumelages.monde import jumelage_direct, paris, pending

from .conftest import plain_text, recipients

pytestmark = pytest.mark.django_db

SENT = paris(2024, 6, 20, 14, 5)
DEADLINE = SENT + datetime.timedelta(hours=72)


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run the reminder sweep; returns (reminders written, mails sent)."""

    def run():
        before = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            count = services.envoyer_rappels()
        return count, mail.outbox[before:]

    return run


def test_the_school_that_must_answer_is_reminded_24_hours_before_the_deadline_once(w, at, sweep):
    pending(w.bmp_a, w.bmp_b, envoyee_le=SENT)
    at(DEADLINE - datetime.timedelta(hours=24, minutes=1))
    assert sweep() == (0, [])
    at(DEADLINE - datetime.timedelta(hours=23, minutes=55))
    count, mails = sweep()
    assert count == 1 and recipients(mails) == [w.B.adresse_mail]
    assert mails[0].subject == (
        f"JUMO – Rappel : demande de jumelage (L1300) de Collège A ({w.A.uai}) "
        "à traiter avant le 23 juin 2024 à 14 h 05"
    )
    text = plain_text(mails[0])
    assert f"Rappel : la demande de jumelage de Collège A ({w.A.uai}) adressée à votre établissement" in text
    assert "Sans réponse avant le 23 juin 2024 à 14 h 05, elle expirera automatiquement." in text
    at(DEADLINE - datetime.timedelta(hours=1))
    assert sweep() == (0, [])


def test_each_school_of_a_target_jumelage_is_reminded(w, at, sweep):
    jumelage = jumelage_direct(w.bmp_b, w.bmp_c)
    pending(w.bmp_a, jumelage=jumelage, envoyee_le=SENT)
    at(DEADLINE - datetime.timedelta(hours=12))
    count, mails = sweep()
    assert count == 2
    assert recipients(mails) == sorted([w.B.adresse_mail, w.C.adresse_mail])


def test_an_answered_or_expired_request_gets_no_reminder(w, at, sweep, django_capture_on_commit_callbacks):
    refused = pending(w.bmp_a, w.bmp_b, envoyee_le=SENT)
    pending(w.bmp_c, w.bmp_d, envoyee_le=SENT - datetime.timedelta(hours=80))  # past its deadline
    at(DEADLINE - datetime.timedelta(hours=30))
    with django_capture_on_commit_callbacks(execute=True):
        workflow.refuse_request(w.head_b, refused, Motif.QUOTITE_INADAPTEE)
    at(DEADLINE - datetime.timedelta(hours=12))
    assert sweep() == (0, [])


def test_before_the_closing_the_reminder_says_the_request_will_lapse(w, at, sweep):
    sent = paris(2024, 6, 25, 9, 0)  # deadline 28 June, after the closing (27 June at 00 h 00)
    pending(w.bmp_a, w.bmp_b, envoyee_le=sent)
    at(paris(2024, 6, 25, 23, 59))
    assert sweep() == (0, [])
    at(paris(2024, 6, 26, 0, 1))
    count, mails = sweep()
    assert count == 1
    assert "à traiter avant le 27 juin 2024 à 00 h 00" in mails[0].subject
    assert (
        "La campagne ferme aux établissements le 27 juin 2024 à 00 h 00 : sans réponse d'ici là, "
        "la demande deviendra caduque."
    ) in plain_text(mails[0])


def test_reminders_can_be_turned_off(w, at, sweep, settings):
    settings.JUMO_RAPPELS_ACTIFS = False
    pending(w.bmp_a, w.bmp_b, envoyee_le=SENT)
    at(DEADLINE - datetime.timedelta(hours=2))
    assert sweep() == (0, [])
    assert not Notification.objects.exists()


def test_the_database_refuses_a_second_reminder_for_a_request_and_school(w, at, sweep):
    demande = pending(w.bmp_a, w.bmp_b, envoyee_le=SENT)
    at(DEADLINE - datetime.timedelta(hours=2))
    sweep()
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(
            type=RAPPEL_ECHEANCE,
            demande=demande,
            etablissement=w.B,
            adresse=w.B.adresse_mail,
            message_id=services.new_message_id(),
        )


def test_a_reminder_is_in_the_schools_list_and_unread(w, at, sweep):
    pending(w.bmp_a, w.bmp_b, envoyee_le=SENT)
    at(DEADLINE - datetime.timedelta(hours=2))
    sweep()
    [reminder] = services.notifications_for(w.B)
    assert reminder.type == RAPPEL_ECHEANCE and reminder.statut == StatutEnvoi.ENVOYE and not reminder.lue
    assert services.unread_count(w.B) == 1 and services.unread_count(w.A) == 0
