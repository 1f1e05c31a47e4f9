"""Concurrency with real parallel connections: one thread, one PostgreSQL connection, all released together.

The rule: "Two schools accepting at the same moment must never put one BMP in two
jumelages"; a request is answered once; no deadlock, no server error.
"""

import datetime
import random
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from bmp.models import Campagne
from jumelages import services
from jumelages.enums import EtatDemande, Motif, TypeEvenement
from jumelages.models import Demande, Evenement, Jumelage, JumelageBMP
from jumelages.services import WorkflowError
from tests.factories import BMPFactory, EtablissementFactory, head_of

from .monde import build_monde, pending

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def w(db):
    """The small académie in a campaign open today (threads see the real clock)."""
    today = timezone.localdate()
    campagne = Campagne.objects.create(
        annee=2100,
        date_ouverture=today - datetime.timedelta(days=2),
        date_cloture=today + datetime.timedelta(days=5),
        date_fin_validation=today + datetime.timedelta(days=7),
        date_debut_consultation=today + datetime.timedelta(days=10),
        date_fin_consultation=today + datetime.timedelta(days=60),
    )
    return build_monde(campagne)


def in_parallel(calls):
    """Run the calls in threads released together by a barrier; each closes its own connection."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = ("ok", call())
        except WorkflowError as error:
            results[index] = ("refus", str(error))
        except Exception as error:  # a deadlock or any server error fails the test below
            results[index] = ("erreur", repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck: deadlock?"
    assert [r for r in results if r[0] == "erreur"] == []
    return results


def other_bmp(w):
    school = EtablissementFactory()
    return BMPFactory(campagne=w.campagne, etablissement=school, discipline=w.maths), head_of(school)


def assert_each_bmp_in_at_most_one_active_jumelage():
    active = list(JumelageBMP.objects.filter(actif=True).values_list("bmp_id", flat=True))
    assert len(active) == len(set(active))


def test_fifty_simultaneous_acceptances_involving_one_bmp_make_exactly_one_jumelage(w):
    now = timezone.now()
    demandes = [pending(other_bmp(w)[0], w.bmp_a, envoyee_le=now) for _ in range(50)]
    results = in_parallel([lambda d=d: services.accept_request(w.head_a, d) for d in demandes])

    winners = [value for outcome, value in results if outcome == "ok"]
    refusals = [value for outcome, value in results if outcome == "refus"]
    assert len(winners) == 1 and len(refusals) == 49
    assert Jumelage.objects.filter(actif=True).count() == 1
    assert JumelageBMP.objects.filter(bmp=w.bmp_a, actif=True).count() == 1
    assert_each_bmp_in_at_most_one_active_jumelage()
    for message in refusals:
        assert message.startswith("Cette demande est devenue caduque le ")
        assert message.endswith(f"le BMP {w.bmp_a.identifiant} fait désormais partie d'un jumelage.")
    assert Demande.objects.filter(etat=EtatDemande.ACCEPTEE).count() == 1
    assert Demande.objects.filter(etat=EtatDemande.CADUQUE).count() == 49
    assert Evenement.objects.filter(type=TypeEvenement.DEMANDE_ACCEPTEE).count() == 1
    assert Evenement.objects.filter(type=TypeEvenement.DEMANDE_CADUQUE).count() == 49


def test_fifty_simultaneous_acceptances_to_one_jumelage_of_two_make_it_three_once(w):
    jumelage = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    now = timezone.now()
    demandes = [pending(other_bmp(w)[0], jumelage=jumelage, envoyee_le=now) for _ in range(50)]
    heads = [w.head_a, w.head_b]
    results = in_parallel([lambda d=d, i=i: services.accept_request(heads[i % 2], d) for i, d in enumerate(demandes)])

    assert [outcome for outcome, _value in results].count("ok") == 1
    jumelage.refresh_from_db()
    assert jumelage.bmps.count() == 3 and Jumelage.objects.filter(actif=True).count() == 1
    assert_each_bmp_in_at_most_one_active_jumelage()
    for outcome, message in results:
        if outcome == "refus":
            assert message.endswith(f"le jumelage n° {jumelage.pk} compte déjà trois BMP.")


def test_simultaneous_acceptances_around_one_bmp_in_every_direction_keep_it_in_one_jumelage(w):
    now = timezone.now()
    partners = [other_bmp(w) for _ in range(50)]
    calls = []
    for bmp, head in partners[:2]:  # its two "three BMPs" requests, accepted by their targets
        demande = pending(w.bmp_a, bmp, envoyee_le=now, trois=True, rang=len(calls) + 1)
        calls.append(lambda d=demande, h=head: services.accept_request(h, d))
    for bmp, _head in partners[2:]:  # requests to it, accepted by its head
        demande = pending(bmp, w.bmp_a, envoyee_le=now)
        calls.append(lambda d=demande: services.accept_request(w.head_a, d))
    random.shuffle(calls)
    results = in_parallel(calls)

    assert 1 <= [outcome for outcome, _value in results].count("ok") <= 2
    assert Jumelage.objects.filter(actif=True).count() == 1
    jumelage = Jumelage.objects.get(actif=True)
    assert w.bmp_a in jumelage.bmps.all() and 2 <= jumelage.bmps.count() <= 3
    assert_each_bmp_in_at_most_one_active_jumelage()
    assert not Demande.objects.filter(etat=EtatDemande.EN_ATTENTE).exists()


def test_a_request_refused_and_accepted_at_the_same_instant_has_one_outcome(w):
    now = timezone.now()
    rounds = []
    for _ in range(15):
        (requester, _), (target, head) = other_bmp(w), other_bmp(w)
        rounds.append((pending(requester, target, envoyee_le=now), head))
    for demande, head in rounds:
        accepted, refused = in_parallel(
            [
                lambda d=demande, h=head: services.accept_request(h, d),
                lambda d=demande, h=head: services.refuse_request(h, d, Motif.QUOTITE_INADAPTEE),
            ]
        )
        demande.refresh_from_db()
        assert [accepted[0], refused[0]].count("ok") == 1
        if accepted[0] == "ok":
            assert demande.etat == EtatDemande.ACCEPTEE and demande.jumelage_id is not None
            assert refused[1] == f"Cette demande a déjà été acceptée le {services.format_instant(demande.terminee_le)}."
        else:
            assert demande.etat == EtatDemande.REFUSEE and demande.jumelage_id is None
            assert accepted[1] == f"Cette demande a déjà été refusée le {services.format_instant(demande.terminee_le)}."
        answers = Evenement.objects.filter(
            demande=demande, type__in=[TypeEvenement.DEMANDE_ACCEPTEE, TypeEvenement.DEMANDE_REFUSEE]
        )
        assert answers.count() == 1


def test_the_expiry_sweep_and_an_acceptance_racing_at_the_deadline_have_one_outcome(w):
    for round_ in range(12):
        (requester, _), (target, head) = other_bmp(w), other_bmp(w)
        deadline = timezone.now() + datetime.timedelta(milliseconds=400)
        demande = pending(requester, target, envoyee_le=deadline - datetime.timedelta(hours=72))

        def sweep(deadline=deadline):
            expired = 0
            while timezone.now() < deadline + datetime.timedelta(milliseconds=100):
                expired += services.expire_overdue()
            return expired

        def accept(d=demande, h=head, deadline=deadline, offset=round_ * 20 - 160):
            pause = (deadline - timezone.now()).total_seconds() + offset / 1000
            time.sleep(max(pause, 0))
            return services.accept_request(h, d)

        swept, accepted = in_parallel([sweep, accept])
        demande.refresh_from_db()
        expiries = Evenement.objects.filter(demande=demande, type=TypeEvenement.DEMANDE_EXPIREE).count()
        if accepted[0] == "ok":
            assert demande.etat == EtatDemande.ACCEPTEE and swept[1] == 0 and expiries == 0
        else:
            assert demande.etat == EtatDemande.EXPIREE and expiries == 1
            assert accepted[1].startswith("Cette demande a expiré le ")
            assert not Jumelage.objects.filter(demandes_acceptees=demande).exists()


def test_two_expiry_sweeps_at_once_expire_each_request_once(w):
    deadline = timezone.now() - datetime.timedelta(minutes=1)
    demandes = [
        pending(other_bmp(w)[0], w.bmp_a, envoyee_le=deadline - datetime.timedelta(hours=72)) for _ in range(30)
    ]
    results = in_parallel([services.expire_overdue, services.expire_overdue])
    assert sum(value for _outcome, value in results) == 30
    assert Demande.objects.filter(pk__in=[d.pk for d in demandes], etat=EtatDemande.EXPIREE).count() == 30
    assert Evenement.objects.filter(type=TypeEvenement.DEMANDE_EXPIREE).count() == 30


def test_two_closing_sweeps_at_once_lapse_each_request_once_and_record_the_closing_once(w):
    today = timezone.localdate()
    closed = Campagne.objects.create(
        annee=2101,
        date_ouverture=today - datetime.timedelta(days=10),
        date_cloture=today - datetime.timedelta(days=1),
        date_fin_validation=today + datetime.timedelta(days=1),
        date_debut_consultation=today + datetime.timedelta(days=3),
        date_fin_consultation=today + datetime.timedelta(days=60),
    )
    target = BMPFactory(campagne=closed, etablissement=w.A, discipline=w.maths)
    sent = timezone.now() - datetime.timedelta(hours=30)  # its deadline falls after the closing
    for _ in range(20):
        pending(
            BMPFactory(campagne=closed, etablissement=EtablissementFactory(), discipline=w.maths),
            target,
            envoyee_le=sent,
        )
    results = in_parallel([services.close_campaigns, services.close_campaigns])
    assert sum(value for _outcome, value in results) == 20
    assert Demande.objects.filter(campagne=closed, etat=EtatDemande.CADUQUE).count() == 20
    assert Evenement.objects.filter(type=TypeEvenement.DEMANDE_CADUQUE).count() == 20
    assert Evenement.objects.filter(type=TypeEvenement.CAMPAGNE_CLOTUREE, campagne=closed).count() == 1
