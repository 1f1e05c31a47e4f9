"""python manage.py import_bmp: a thin shell over the refresh, with exit status, summary and progress."""

import io
from decimal import Decimal

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

from bmp.models import BMP, ImportRun
from tests.factories import CampagneFactory

from .conftest import bmp_snapshot, make_csv


class Terminal(io.StringIO):
    def isatty(self):
        return True


def run(*args, stdout=None):
    stdout = stdout if stdout is not None else io.StringIO()
    stderr = io.StringIO()
    call_command("import_bmp", *[str(a) for a in args], stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def good_file(tmp_path, schools, disciplines):
    path = tmp_path / "bmp.csv"
    path.write_bytes(
        make_csv(
            [
                ["BMP-1", schools[0].uai, "L1300", "MATHEMATIQUES", "9"],
                ["BMP-2", schools[1].uai, "L8013", "NOUVELLE", "7,5"],
            ]
        )
    )
    return path


@pytest.fixture
def bad_file(tmp_path, schools, disciplines):
    path = tmp_path / "mauvais.csv"
    path.write_bytes(
        make_csv(
            [
                ["BMP-1", schools[0].uai, "L1300", "", "abc"],
                ["BMP-2", "0000000B", "L1300", "", "4"],
            ]
        )
    )
    return path


def test_applied_file_prints_the_summary(campagne, good_file):
    out, err = run(good_file)
    assert "Actualisation des BMP appliquée (campagne 2024, fichier" in out
    assert "Encodage détecté : UTF-8 ; séparateur : point-virgule (;)." in out
    assert "Ajoutés : 2 ; modifiés : 0 ; retirés : 0 ; restaurés : 0 ; inchangés : 0." in out
    assert "Disciplines créées : L8013 (NOUVELLE)." in out
    assert "Demandes touchées : 0 ; jumelages touchés : 0." in out
    assert "Durée : " in out
    assert BMP.objects.get(identifiant="BMP-2").heures == Decimal("7.5")
    assert ImportRun.objects.get().lance_par == "commande import_bmp"


def test_same_file_again_says_nothing_changed(campagne, good_file):
    run(good_file)
    out, _err = run(good_file)
    assert "Aucun changement : les 2 BMP du fichier sont déjà à jour." in out


def test_rejected_file_exits_non_zero_and_prints_every_error(campagne, existing, bad_file):
    before = bmp_snapshot()
    stderr = io.StringIO()
    with pytest.raises(CommandError, match="rejeté"):
        call_command("import_bmp", str(bad_file), stdout=io.StringIO(), stderr=stderr)
    printed = stderr.getvalue()
    assert "Ligne 2, colonne « heures », valeur « abc » : Heures invalides" in printed
    assert "Ligne 3, colonne « uai », valeur « 0000000B » : L'UAI « 0000000B » a une lettre clé erronée" in printed
    assert bmp_snapshot() == before
    assert ImportRun.objects.get().statut == "rejete"


def test_exit_status_from_the_command_line(campagne, existing, bad_file, good_file, capsys, monkeypatch):
    # manage.py closes the connections when the command ends: not the test's connection.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    with pytest.raises(SystemExit) as exit_status:
        ManagementUtility(["manage.py", "import_bmp", str(bad_file)]).execute()
    assert exit_status.value.code == 1
    assert "Ligne 2, colonne « heures »" in capsys.readouterr().err
    # Applied (with --force: the file withdraws BMP-3): exit status 0, no SystemExit.
    ManagementUtility(["manage.py", "import_bmp", str(good_file), "--force"]).execute()
    assert "Actualisation des BMP appliquée" in capsys.readouterr().out


def test_dry_run_writes_nothing(campagne, existing, good_file):
    before = bmp_snapshot()
    out, _err = run(good_file, "--dry-run", "--force")
    assert "Essai à blanc : rien n'a été enregistré" in out
    # BMP-1 unchanged, BMP-2 changes discipline, BMP-3 absent.
    assert "Changements prévus : ajoutés : 0 ; modifiés : 1 ; retirés : 1 ; restaurés : 0 ; inchangés : 1." in out
    assert bmp_snapshot() == before
    assert ImportRun.objects.get().statut == "a_blanc"


def test_guard_refusal_exits_non_zero_and_force_applies(campagne, existing, good_file):
    stderr = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_bmp", str(good_file), stdout=io.StringIO(), stderr=stderr)
    assert "Ce fichier retirerait 1 des 3 BMP actifs de la campagne 2024 (33,3 %)" in stderr.getvalue()
    out, _err = run(good_file, "--force")
    assert "retirés : 1" in out


def test_campaign_defaults_to_the_latest_year(campagne, good_file):
    latest = CampagneFactory(annee=2025)
    run(good_file)
    assert set(BMP.objects.values_list("campagne", flat=True)) == {latest.pk}


def test_campaign_chosen_by_year(campagne, good_file):
    CampagneFactory(annee=2025)
    run(good_file, "--campagne", "2024")
    assert set(BMP.objects.values_list("campagne", flat=True)) == {campagne.pk}


def test_unknown_campaign_year_is_a_french_error(campagne, good_file):
    with pytest.raises(CommandError, match=r"Aucune campagne 2030 \(campagnes existantes : 2024\)\."):
        run(good_file, "--campagne", "2030")


def test_no_campaign_at_all_is_a_french_error(db, good_file):
    with pytest.raises(CommandError, match="Aucune campagne n'existe"):
        run(good_file)


def test_missing_file_is_a_failed_run(campagne, tmp_path):
    stderr = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_bmp", str(tmp_path / "absent.csv"), stdout=io.StringIO(), stderr=stderr)
    assert "est introuvable" in stderr.getvalue()
    run_record = ImportRun.objects.get()
    assert run_record.statut == "echec"
    assert "introuvable" in run_record.erreurs[0]["message"]


def test_plain_progress_lines_when_not_on_a_terminal(campagne, good_file):
    out, err = run(good_file)
    assert "Validation : 2 / 2" in out
    assert "\r" not in out + err


def test_progress_bar_when_stdout_is_a_terminal(campagne, good_file, capsys):
    terminal = Terminal()
    call_command("import_bmp", str(good_file), stdout=terminal, stderr=io.StringIO())
    assert "Validation : 2 / 2" not in terminal.getvalue()
    assert "Validation" in capsys.readouterr().err  # the tqdm bar
