"""Loading the real reference data shipped in fixtures/ (load_reference_data)."""

import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from establishments.enums import TYPES_LYCEE, Position, TypeEtablissement
from establishments.models import Commune, Discipline, Etablissement, ZoneRemplacement
from establishments.services import NO_ZONES_MESSAGE, REFERENCE_FILES, load_reference_data

from .conftest import FIXTURES

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        list(Commune.objects.values_list()),
        list(Discipline.objects.values_list()),
        list(Etablissement.objects.values_list()),
    )


def test_the_shipped_data_gives_594_communes_16_disciplines_372_colleges_166_lycees():
    outcome = load_reference_data()
    assert Commune.objects.count() == 594
    assert Discipline.objects.count() == 16
    assert Etablissement.objects.filter(type=TypeEtablissement.COLLEGE).count() == 372
    assert Etablissement.objects.filter(type__in=TYPES_LYCEE).count() == 166
    assert Etablissement.objects.filter(position=Position.APPROXIMATIVE).count() == 166 + 1
    assert [r.added for r in outcome.results] == [594, 16, 372, 166]
    assert not outcome.zones_published
    assert not ZoneRemplacement.objects.exists()


def test_a_second_run_changes_nothing():
    load_reference_data()
    before = snapshot()
    outcome = load_reference_data()
    assert snapshot() == before
    assert not any(r.has_changes for r in outcome.results)
    assert [r.unchanged for r in outcome.results] == [594, 16, 372, 166]


def test_the_command_prints_a_short_summary_and_says_zones_are_not_published():
    out = StringIO()
    call_command("load_reference_data", stdout=out)
    text = out.getvalue()
    assert "communes (communes_77_93_94.csv) : ajouts : 594" in text
    assert "établissements (lycees_publics_77_93_94_ips_2021.csv) : ajouts : 166" in text
    assert f"{NO_ZONES_MESSAGE}." in text
    out = StringIO()
    call_command("load_reference_data", stdout=out)
    assert "Aucun changement : le référentiel était déjà chargé." in out.getvalue()


def test_a_zones_file_in_the_directory_is_loaded_last(tmp_path):
    for name in ("communes", "disciplines", "colleges", "lycees"):
        shutil.copy(FIXTURES / REFERENCE_FILES[name], tmp_path)
    # Test data only: no zones file is published.
    (tmp_path / REFERENCE_FILES["zones"]).write_text("code_zone;libelle_zone;code_insee\nZR-TEST;Zone de test;94028\n")
    outcome = load_reference_data(tmp_path)
    assert outcome.zones_published
    assert list(ZoneRemplacement.objects.values_list("code", "communes__code_insee")) == [("ZR-TEST", "94028")]


def test_a_rejected_file_rolls_back_the_whole_load(tmp_path):
    for name in ("communes", "colleges", "lycees"):
        shutil.copy(FIXTURES / REFERENCE_FILES[name], tmp_path)
    (tmp_path / REFERENCE_FILES["disciplines"]).write_text("code;libelle;heures_temps_plein\nL1300;MATHEMATIQUES;99\n")
    with pytest.raises(CommandError) as exc:
        call_command("load_reference_data", directory=str(tmp_path), stdout=StringIO())
    message = str(exc.value)
    assert "disciplines_de_poste.csv » rejeté" in message
    assert "Ligne 2, colonne « heures_temps_plein », valeur « 99 »" in message
    assert not Commune.objects.exists()


def test_a_missing_file_is_reported_in_french(tmp_path):
    with pytest.raises(CommandError) as exc:
        call_command("load_reference_data", directory=str(tmp_path), stdout=StringIO())
    assert "Impossible de lire le fichier" in str(exc.value)
