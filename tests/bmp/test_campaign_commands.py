import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command

from bmp.enums import Phase
from bmp.models import BMP, Campagne
from establishments.enums import TypeEtablissement
from tests.factories import CommuneFactory, DisciplineFactory, EtablissementFactory, valid_uai

pytestmark = pytest.mark.django_db


def test_create_campaign_moves_2024_dates_to_the_year_and_is_idempotent(capsys):
    call_command("create_campaign", "2026")
    campagne = Campagne.objects.get(annee=2026)
    assert campagne.date_ouverture == datetime.date(2026, 6, 17)
    assert campagne.date_cloture == datetime.date(2026, 6, 26)
    assert campagne.date_debut_consultation == datetime.date(2026, 7, 1)
    assert campagne.date_fin_consultation == datetime.date(2026, 9, 1)

    campagne.date_ouverture = datetime.date(2026, 6, 15)
    campagne.save()
    call_command("create_campaign", "2026")
    assert Campagne.objects.get(annee=2026).date_ouverture == datetime.date(2026, 6, 15)
    assert "existe déjà" in capsys.readouterr().out


def test_create_campaign_refuses_an_implausible_year():
    with pytest.raises(CommandError, match="n'est pas une année de rentrée plausible"):
        call_command("create_campaign", "26")
    assert not Campagne.objects.exists()


@pytest.fixture
def real_like_schools():
    """Two collèges and a lycée: the shape seed_demo needs (tests use factories, the demo the real data)."""
    for code, label in [
        ("L1300", "MATHEMATIQUES"),
        ("L0422", "ANGLAIS"),
        ("L1800", "ARTS PLASTIQUES"),
        ("L1900", "EPS"),
        ("L0100", "PHILOSOPHIE"),
    ]:
        DisciplineFactory(code=code, libelle=label, heures_temps_plein=20 if code == "L1900" else 18)
    commune = CommuneFactory(code_insee="94028")
    EtablissementFactory(uai=valid_uai(1), commune=commune)
    EtablissementFactory(uai=valid_uai(2), commune=commune, type=TypeEtablissement.LPO)
    EtablissementFactory(uai=valid_uai(3), commune=CommuneFactory(code_insee="94033"))


@time_machine.travel(datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.UTC))
def test_seed_demo_makes_one_open_campaign_with_bmps_and_accounts_and_reuses_it(real_like_schools, capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    campagne = Campagne.objects.get()
    assert campagne.phase == Phase.OUVERTE
    assert out.strip().splitlines()[-1] == str(campagne.annee)
    assert "chef.cite@jumo.test / jumo-demo-2024" in out
    count = BMP.objects.count()
    assert count >= 7  # the pinned BMPs of the demo heads at least

    call_command("seed_demo")
    assert Campagne.objects.count() == 1
    assert BMP.objects.count() == count


def test_seed_demo_without_reference_data_says_what_to_do():
    with pytest.raises(CommandError, match="load_reference_data"):
        call_command("seed_demo")


def test_the_demo_services_build_their_nearest_pairs_through_the_workflow(w, ouverte):
    """seed_demo gives the dashboard something to show: each service builds the nearest pairs of free
    BMPs of one discipline in its perimeter, never with the demo heads' schools."""
    from jumelages.enums import OrigineJumelage, TypeEvenement
    from jumelages.models import Jumelage
    from ops.demo import _jumelages_des_services

    for ecole, (lat, lon) in {w.B: (48.80, 2.40), w.C: (48.80, 2.41), w.D: (48.80, 2.60)}.items():
        ecole.latitude, ecole.longitude = Decimal(str(lat)), Decimal(str(lon))
        ecole.save()
    construits = _jumelages_des_services(w.campagne, {"0949999H": w.agent94}, exclus={w.A.pk})
    assert construits == 1  # B + C, the nearest; D is left alone, A belongs to a demo head
    jumelage = Jumelage.objects.get()
    assert {m.etablissement_id for m in jumelage.appartenances.all()} == {w.B.pk, w.C.pk}
    assert jumelage.origine == OrigineJumelage.SERVICE and jumelage.cree_par == w.agent94
    assert jumelage.evenements.get().type == TypeEvenement.JUMELAGE_CREE
