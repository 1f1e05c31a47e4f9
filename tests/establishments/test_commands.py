"""The import commands operators run: what they print, and how they reject a file."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from establishments.models import Etablissement

from .conftest import (
    ANNUAIRE_FILE,
    COLLEGES_FILE,
    COMMUNES_FILE,
    DISCIPLINES_FILE,
    LYCEES_FILE,
    header_of,
    real_line,
)

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_import_establishments_prints_format_encoding_delimiter_counts_and_skips(communes):
    text = run("import_establishments", str(ANNUAIRE_FILE))
    assert "Fichier reconnu : Annuaire de l'éducation" in text
    assert "Encodage : UTF-8 (avec BOM) ; séparateur : point-virgule (;)" in text
    assert "Ajouts : 0 ; mises à jour : 0 ; sans changement : 0 ; fermetures : 0 ; lignes ignorées : 613." in text
    assert "Ignorées (premier degré) : 613." in text

    text = run("import_establishments", str(COLLEGES_FILE))
    assert "Ajouts : 372" in text
    assert "Ajoutés :\n  0931713G – Collège Lavoisier\n" in text  # the file's first line
    assert "  … et 322 autre(s) (--verbosity 2 pour tout afficher)." in text
    every_line = run("import_establishments", str(LYCEES_FILE), "--verbosity", "2")
    assert "autre(s) (--verbosity 2" not in every_line
    assert every_line.count("\n  0") == 166
    assert "Placés au centre de leur commune (position approximative, faute de coordonnées) : 1." in text


def test_import_establishments_lists_what_it_closed(communes, tmp_path):
    run("import_establishments", str(COLLEGES_FILE))
    header = header_of(COLLEGES_FILE)
    line = real_line(COLLEGES_FILE, "0931713G").replace(";1;OUVERT;", ";2;FERME;")
    path = tmp_path / "fermeture.csv"
    path.write_text(f"{header}\n{line}\n", encoding="utf-8")
    text = run("import_establishments", str(path))
    assert "Fermés (conservés, marqués fermés) :\n  0931713G – Collège Lavoisier" in text


def test_import_establishments_rejects_a_file_printing_every_error(communes, tmp_path):
    header = header_of(COLLEGES_FILE)
    lines = [
        real_line(COLLEGES_FILE, "0931713G").replace("0931713G", "0931713H"),
        real_line(COLLEGES_FILE, "0772819W").replace(";77307;", ";77999;"),
    ]
    path = tmp_path / "erreurs.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    with pytest.raises(CommandError) as exc:
        run("import_establishments", str(path))
    message = str(exc.value)
    assert message.startswith("Fichier rejeté : 2 erreur(s), rien n'a été enregistré.")
    assert "encodage UTF-8, séparateur point-virgule (;)" in message
    assert "- Ligne 2, colonne « numero_uai », valeur « 0931713H » : L'UAI « 0931713H » a une lettre clé" in message
    assert "- Ligne 3, colonne « code_commune », valeur « 77999 » : Commune inconnue" in message
    assert not Etablissement.objects.exists()


def test_import_establishments_dry_run_writes_nothing(communes):
    text = run("import_establishments", str(COLLEGES_FILE), "--dry-run")
    assert "Simulation (--dry-run) : rien n'a été enregistré." in text
    assert not Etablissement.objects.exists()


def test_a_missing_file_is_a_french_error(db):
    with pytest.raises(CommandError) as exc:
        run("import_establishments", "/nonexistent/etablissements.csv")
    message = str(exc.value)
    assert "Impossible de lire le fichier « /nonexistent/etablissements.csv » : fichier introuvable." in message


def test_import_communes_and_disciplines_print_their_counts_and_say_when_nothing_changed(db):
    assert "Ajouts : 594" in run("import_communes", str(COMMUNES_FILE))
    assert "Aucun changement" in run("import_communes", str(COMMUNES_FILE))
    assert "Ajouts : 16" in run("import_disciplines", str(DISCIPLINES_FILE))


def test_import_zones_command(communes, tmp_path):
    path = tmp_path / "zones.csv"  # test data only: no zones file is published
    path.write_text("code_zone;libelle_zone;code_insee\nZR-TEST;Zone de test;94028\n", encoding="utf-8")
    assert "Ajouts : 1" in run("import_zones", str(path))
    with pytest.raises(CommandError) as exc:
        run("import_zones", str(COMMUNES_FILE))
    assert "Colonne obligatoire absente : « code_zone »" in str(exc.value)
