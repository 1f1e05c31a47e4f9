"""Whom each operation alerts (the notification rules): every school concerned, one mail each.

The instruction: "Quelle que soit l'opération réalisée sur l'application JUMO, une alerte est
aussitôt envoyée sur la boîte mail des établissements concernés". For a request, the
requesting school and the school(s) that must answer (the target BMP's school, or each
school of the target jumelage), the author included; for a jumelage, each of its schools.
Each operation is driven through the real workflow (jumelages.services); the sends run
eagerly into Django's locmem outbox once the operation commits.
"""

import datetime
from decimal import Decimal

import pytest

from bmp.models import BMP
from bmp.signals import bmps_refreshed
from jumelages import services
from jumelages.enums import EtatDemande, Motif, TypeEvenement
from jumelages.models import Evenement
from notifications.models import Notification
from tests.jumelages.monde import VALIDATION, etat, jumelage_direct, paris, pending

from .conftest import by_address, recipients

pytestmark = pytest.mark.django_db


def addresses(*schools) -> list[str]:
    return sorted(f"ce.{school.uai.lower()}@ac-creteil.fr" for school in schools)


def subjects(mails) -> dict:
    return {address: m.subject for address, m in by_address(mails).items()}


def of_type(mails, type_evenement) -> list:
    """The mails of this kind of event among those an operation sent (an operation may record several)."""
    message_ids = set(
        Notification.objects.filter(type=type_evenement).values_list("message_id", flat=True),
    )
    return [m for m in mails if m.extra_headers["Message-ID"] in message_ids]


# --- Requests -----------------------------------------------------------------------------------


def test_a_request_sent_alerts_the_requester_and_the_target_school_each_with_its_part(w, ouverte, operation):
    _demande, mails = operation(services.send_request, w.head_a, w.bmp_a, w.bmp_b)
    assert recipients(mails) == addresses(w.A, w.B)
    assert subjects(mails) == {
        w.A.adresse_mail: f"JUMO – Votre demande de jumelage (L1300) a été envoyée à Collège B ({w.B.uai})",
        w.B.adresse_mail: f"JUMO – Vous avez reçu une demande de jumelage (L1300) de Collège A ({w.A.uai})",
    }


def test_a_request_to_a_jumelage_of_two_alerts_each_of_its_schools(w, ouverte, operation):
    jumelage = jumelage_direct(w.bmp_b, w.bmp_c)
    _demande, mails = operation(services.send_request, w.head_a, w.bmp_a, jumelage)
    assert recipients(mails) == addresses(w.A, w.B, w.C)
    parts = subjects(mails)
    assert parts[w.B.adresse_mail] == parts[w.C.adresse_mail]
    assert parts[w.B.adresse_mail].startswith("JUMO – Vous avez reçu une demande de jumelage")
    assert parts[w.A.adresse_mail].startswith("JUMO – Votre demande de jumelage (L1300) a été envoyée à ")


def test_an_acceptance_alerts_both_schools_of_the_new_jumelage(w, ouverte, operation):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    jumelage, mails = operation(services.accept_request, w.head_b, demande)
    assert recipients(mails) == addresses(w.A, w.B)
    parts = subjects(mails)
    assert parts[w.A.adresse_mail] == (
        f"JUMO – Votre demande de jumelage (L1300) a été acceptée : jumelage n° {jumelage.pk} constitué"
    )
    assert parts[w.B.adresse_mail] == (
        f"JUMO – Demande de jumelage de Collège A ({w.A.uai}) acceptée : jumelage n° {jumelage.pk} constitué"
    )


def test_an_acceptance_by_a_service_agent_alerts_the_schools_not_the_agent(w, ouverte, operation):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    _jumelage, mails = operation(services.accept_request, w.agent94, demande)
    assert recipients(mails) == addresses(w.A, w.B)


def test_a_refusal_alerts_the_requester_and_the_refusing_school(w, ouverte, operation):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    _, mails = operation(services.refuse_request, w.head_b, demande, Motif.QUOTITE_INADAPTEE)
    assert recipients(mails) == addresses(w.A, w.B)
    parts = subjects(mails)
    assert parts[w.A.adresse_mail] == "JUMO – Votre demande de jumelage (L1300) a été refusée"
    assert parts[w.B.adresse_mail] == f"JUMO – Demande de jumelage (L1300) de Collège A ({w.A.uai}) refusée"


def test_a_refusal_of_a_request_to_a_jumelage_alerts_every_school_of_that_jumelage(w, ouverte, operation):
    jumelage = jumelage_direct(w.bmp_b, w.bmp_c)
    demande = services.send_request(w.head_a, w.bmp_a, jumelage)
    _, mails = operation(services.refuse_request, w.head_c, demande, Motif.ZONES_DIFFERENTES)
    assert recipients(mails) == addresses(w.A, w.B, w.C)


def test_a_cancellation_alerts_the_requester_and_the_school_that_no_longer_has_to_answer(w, ouverte, operation):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    _, mails = operation(services.cancel_request, w.head_a, demande)
    assert recipients(mails) == addresses(w.A, w.B)
    parts = subjects(mails)
    assert parts[w.A.adresse_mail] == "JUMO – Votre demande de jumelage (L1300) a été annulée"
    assert parts[w.B.adresse_mail] == f"JUMO – Demande de jumelage (L1300) de Collège A ({w.A.uai}) annulée"


def test_the_expiry_sweep_alerts_both_schools_of_each_expired_request(w, at, operation):
    first = pending(w.bmp_a, w.bmp_b, envoyee_le=paris(2024, 6, 18, 9, 0))
    second = pending(w.bmp_c, w.bmp_d, envoyee_le=paris(2024, 6, 18, 10, 0))
    at(paris(2024, 6, 21, 10, 30))
    count, mails = operation(services.expire_overdue)
    assert count == 2 and etat(first) == etat(second) == EtatDemande.EXPIREE
    assert recipients(mails) == addresses(w.A, w.B, w.C, w.D)
    parts = subjects(mails)
    assert parts[w.A.adresse_mail] == "JUMO – Votre demande de jumelage (L1300) a expiré sans réponse"
    assert parts[w.B.adresse_mail] == (
        f"JUMO – Demande de jumelage (L1300) de Collège A ({w.A.uai}) expirée sans réponse"
    )


def test_an_expired_request_to_a_jumelage_alerts_each_school_of_that_jumelage(w, at, operation):
    jumelage = jumelage_direct(w.bmp_b, w.bmp_c)
    pending(w.bmp_a, jumelage=jumelage, envoyee_le=paris(2024, 6, 18, 9, 0))
    at(paris(2024, 6, 21, 10, 30))
    _, mails = operation(services.expire_overdue)
    assert recipients(mails) == addresses(w.A, w.B, w.C)


def test_a_second_expiry_sweep_alerts_nobody_again(w, at, operation):
    pending(w.bmp_a, w.bmp_b, envoyee_le=paris(2024, 6, 18, 9, 0))
    at(paris(2024, 6, 21, 10, 30))
    _, first = operation(services.expire_overdue)
    _, second = operation(services.expire_overdue)
    assert len(first) == 2 and second == []


def test_requests_made_caduque_by_an_acceptance_alert_their_own_schools(w, ouverte, operation):
    taken = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    lapsing = services.send_request(w.head_c, w.bmp_c, w.bmp_b)
    _jumelage, mails = operation(services.accept_request, w.head_b, taken)
    assert etat(lapsing) == EtatDemande.CADUQUE
    assert recipients(of_type(mails, TypeEvenement.DEMANDE_ACCEPTEE)) == addresses(w.A, w.B)
    caduque = of_type(mails, TypeEvenement.DEMANDE_CADUQUE)
    assert recipients(caduque) == addresses(w.B, w.C)
    parts = subjects(caduque)
    assert parts[w.C.adresse_mail] == "JUMO – Votre demande de jumelage (L1300) est devenue caduque"
    assert parts[w.B.adresse_mail] == (f"JUMO – Demande de jumelage (L1300) de Collège C ({w.C.uai}) devenue caduque")


def test_the_closing_sweep_alerts_the_schools_of_each_pending_request(w, at, operation):
    lapsing = pending(w.bmp_a, w.bmp_b, envoyee_le=paris(2024, 6, 25, 12, 0))
    at(paris(2024, 6, 27, 1, 0))
    count, mails = operation(services.close_campaigns)
    assert count == 1 and etat(lapsing) == EtatDemande.CADUQUE
    assert recipients(mails) == addresses(w.A, w.B)
    # The campaign_cloturee event concerns no school: no mail of its own.
    assert Evenement.objects.filter(type=TypeEvenement.CAMPAGNE_CLOTUREE).count() == 1
    assert not Notification.objects.filter(type=TypeEvenement.CAMPAGNE_CLOTUREE).exists()


# --- Jumelages ----------------------------------------------------------------------------------


def test_a_jumelage_built_by_a_service_alerts_each_of_its_schools(w, ouverte, operation):
    jumelage, mails = operation(services.build_jumelage, w.agent94, [w.bmp_a, w.bmp_b, w.bmp_c])
    assert recipients(mails) == addresses(w.A, w.B, w.C)
    assert set(subjects(mails).values()) == {f"JUMO – Jumelage n° {jumelage.pk} (L1300) construit par DSDEN 94"}


def test_a_jumelage_extended_to_three_alerts_its_three_schools(w, ouverte, operation):
    jumelage = jumelage_direct(w.bmp_b, w.bmp_c)
    demande = services.send_request(w.head_a, w.bmp_a, jumelage)
    _, mails = operation(services.accept_request, w.head_b, demande)
    extended = of_type(mails, TypeEvenement.JUMELAGE_ETENDU)
    assert recipients(extended) == addresses(w.A, w.B, w.C)
    assert set(subjects(extended).values()) == {f"JUMO – Jumelage n° {jumelage.pk} (L1300) étendu à trois BMP"}


def test_a_deletion_alerts_every_school_of_the_jumelage(w, ouverte, operation):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b, w.bmp_c)
    _, mails = operation(services.delete_jumelage, w.head_b, jumelage, Motif.QUOTITE_INADAPTEE)
    assert recipients(mails) == addresses(w.A, w.B, w.C)


def test_a_deletion_alerts_the_requests_made_caduque_too(w, ouverte, operation):
    """The request to the deleted jumelage lapses: its requester and the schools that had to answer are told."""
    jumelage = jumelage_direct(w.bmp_b, w.bmp_c)
    demande = services.send_request(w.head_a, w.bmp_a, jumelage)
    _, mails = operation(services.delete_jumelage, w.head_b, jumelage, Motif.AUTRE, "Erreur de saisie")
    assert etat(demande) == EtatDemande.CADUQUE
    assert recipients(of_type(mails, TypeEvenement.JUMELAGE_SUPPRIME)) == addresses(w.B, w.C)
    assert recipients(of_type(mails, TypeEvenement.DEMANDE_CADUQUE)) == addresses(w.A, w.B, w.C)


def test_a_validation_alerts_every_school_of_the_jumelage(w, at, operation):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    at(VALIDATION)
    _, mails = operation(services.validate_jumelage, w.agent94, jumelage)
    assert recipients(mails) == addresses(w.A, w.B)
    assert set(subjects(mails).values()) == {f"JUMO – Jumelage n° {jumelage.pk} (L1300) validé"}


def test_a_new_rattachement_alerts_every_school_of_the_jumelage(w, ouverte, operation):
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    _, mails = operation(services.set_rattachement, w.agent94, jumelage, w.B)
    assert recipients(mails) == addresses(w.A, w.B)


# --- The nightly refresh ------------------------------------------------------------------------


def refresh(campagne, *, changed=(), withdrawn=(), restored=()):
    """What bmp.services.refresh_bmps announces once it has written the BMP rows."""
    bmps_refreshed.send(
        sender=BMP,
        campagne=campagne,
        changed=list(changed),
        withdrawn=list(withdrawn),
        restored=list(restored),
        touched={},
    )


def test_hours_changed_by_the_refresh_alert_every_school_of_the_jumelage(w, ouverte, operation):
    jumelage_direct(w.bmp_a, w.bmp_b)
    BMP.objects.filter(pk=w.bmp_a.pk).update(heures=Decimal("7.5"))
    _, mails = operation(refresh, w.campagne, changed=[w.bmp_a.pk])
    assert recipients(mails) == addresses(w.A, w.B)
    assert set(subjects(mails).values()) == {"JUMO – Heures d'un BMP (L1300) modifiées par l'actualisation nocturne"}


def test_hours_changed_by_the_refresh_alert_the_schools_of_its_pending_requests(w, ouverte, operation):
    services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    BMP.objects.filter(pk=w.bmp_b.pk).update(heures=Decimal("11"))
    _, mails = operation(refresh, w.campagne, changed=[w.bmp_b.pk])
    assert recipients(mails) == addresses(w.A, w.B)


def test_a_withdrawal_by_the_refresh_alerts_the_jumelage_and_the_lapsed_requests(w, ouverte, operation):
    jumelage_direct(w.bmp_a, w.bmp_b)
    lapsing = services.send_request(w.head_c, w.bmp_c, w.bmp_d)
    BMP.objects.filter(pk__in=[w.bmp_b.pk, w.bmp_d.pk]).update(actif=False)
    _, mails = operation(refresh, w.campagne, withdrawn=[w.bmp_b.pk, w.bmp_d.pk])
    assert etat(lapsing) == EtatDemande.CADUQUE
    assert recipients(of_type(mails, TypeEvenement.BMP_RETIRE)) == addresses(w.A, w.B)
    assert recipients(of_type(mails, TypeEvenement.DEMANDE_CADUQUE)) == addresses(w.C, w.D)


def test_the_real_refresh_file_alerts_the_schools_it_concerns(w, ouverte, operation):
    """bmp.services.refresh_bmps end to end: a file that changes the hours of a paired BMP."""
    from bmp.services import refresh_bmps

    jumelage_direct(w.bmp_a, w.bmp_b)
    lines = ["identifiant;uai;discipline;heures"] + [
        f"{b.identifiant};{b.etablissement.uai};L1300;{'8' if b == w.bmp_a else str(b.heures)}"
        for b in (w.bmp_a, w.bmp_b, w.bmp_c, w.bmp_d, w.bmp_e, w.bmp_l)
    ]
    data = ("\r\n".join(lines) + "\r\n").encode()
    result, mails = operation(refresh_bmps, w.campagne, data, filename="bmp.csv")
    assert result.ok, result.error_lines()
    assert recipients(mails) == addresses(w.A, w.B)
    text = by_address(mails)[w.B.adresse_mail].body
    assert f"du BMP {w.bmp_a.identifiant} de Collège A ({w.A.uai}), membre de votre jumelage" in text
    assert "son total est désormais de 18 h" in text


# --- One mail per school and operation ----------------------------------------------------------


def test_each_event_gets_one_row_per_school_concerned_and_no_more(w, ouverte, operation):
    jumelage = jumelage_direct(w.bmp_b, w.bmp_c)
    demande = services.send_request(w.head_a, w.bmp_a, jumelage)
    operation(services.accept_request, w.head_c, demande)
    for evenement in Evenement.objects.prefetch_related("etablissements_concernes"):
        schools = sorted(e.pk for e in evenement.etablissements_concernes.all())
        rows = sorted(Notification.objects.filter(evenement=evenement).values_list("etablissement_id", flat=True))
        assert rows == schools, evenement


def test_the_head_of_two_schools_gets_one_mail_in_each_mailbox(w, ouverte, operation):
    """A cité scolaire: one head, two UAI, two mailboxes; each school is told once."""
    from tests.factories import head_of

    head = head_of(w.A, w.C, first_name="Claire", last_name="Dupont")
    jumelage = jumelage_direct(w.bmp_a, w.bmp_b)
    demande = services.send_request(w.head_d, w.bmp_d, jumelage)
    _, mails = operation(services.refuse_request, head, demande, Motif.QUOTITE_INADAPTEE)
    assert recipients(mails) == addresses(w.A, w.B, w.D)


def test_an_operation_that_fails_alerts_nobody(w, ouverte, operation):
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    before = Notification.objects.count()
    with pytest.raises(services.WorkflowError):
        operation(services.refuse_request, w.head_c, demande, Motif.AUTRE, "pas le bon établissement")
    assert Notification.objects.count() == before


def test_a_request_answered_after_its_deadline_is_expired_and_both_schools_are_told(w, at, operation):
    demande = pending(w.bmp_a, w.bmp_b, envoyee_le=paris(2024, 6, 18, 9, 0))
    at(paris(2024, 6, 21, 9, 0) + datetime.timedelta(minutes=1))
    mails = []

    def accept():
        with pytest.raises(services.WorkflowError):
            services.accept_request(w.head_b, demande)

    _, mails = operation(accept)
    assert etat(demande) == EtatDemande.EXPIREE
    assert recipients(mails) == addresses(w.A, w.B)


def test_a_bmp_restored_by_the_refresh_alerts_every_school_of_its_jumelage(w, ouverte, operation):
    jumelage_direct(w.bmp_a, w.bmp_b)
    BMP.objects.filter(pk=w.bmp_a.pk).update(actif=False)
    refresh(w.campagne, withdrawn=[w.bmp_a.pk])
    BMP.objects.filter(pk=w.bmp_a.pk).update(actif=True)
    _, mails = operation(refresh, w.campagne, restored=[w.bmp_a.pk])
    assert recipients(mails) == addresses(w.A, w.B)
    assert set(subjects(mails).values()) == {"JUMO – BMP (L1300) restauré par l'actualisation nocturne"}
    assert f"a restauré votre BMP {w.bmp_a.identifiant} (9 h)" in by_address(mails)[w.A.adresse_mail].body
