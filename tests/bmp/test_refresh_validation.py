"""The refresh file is validated whole: a bad file is rejected with every error in French, and the
database stays exactly as it was (FORMATS.md "BMP refresh")."""

from decimal import Decimal

import pytest

from bmp.enums import StatutImport
from bmp.models import BMP, ImportRun
from bmp.services import refresh_bmps
from establishments.models import Discipline
from tests.factories import valid_uai

from .conftest import bmp_snapshot, make_csv


def reject(campagne, data, filename="bmp.csv"):
    """Run the refresh on a bad file; check nothing changed and the rejection was recorded."""
    before = bmp_snapshot()
    disciplines_before = list(Discipline.objects.order_by("pk").values_list())
    result = refresh_bmps(campagne, data, filename=filename)
    assert result.statut == StatutImport.REJETE
    assert result.errors
    assert bmp_snapshot() == before
    assert list(Discipline.objects.order_by("pk").values_list()) == disciplines_before
    run = ImportRun.objects.get()
    assert run.statut == StatutImport.REJETE
    assert run.erreurs == [error.as_dict() for error in result.errors]
    return result


def messages(result) -> str:
    return "\n".join(str(error) for error in result.errors)


# --- Encoding and shape (read by establishments.csvfiles) ----------------------------------


def test_utf16_file_is_rejected_with_a_french_error(campagne, existing, same_file):
    result = reject(campagne, same_file.decode("utf-8").encode("utf-16"))
    assert "UTF-16" in messages(result)
    assert "UTF-8" in messages(result)


def test_mixed_encoding_is_rejected_and_lists_the_lines(campagne, existing, schools):
    data = (
        b"identifiant;uai;discipline;libelle_discipline;heures\n"
        + f"BMP-9;{schools[0].uai};L9999;ÉDUCATION;4\n".encode()
        + f"BMP-10;{schools[0].uai};L9998;ÉDUCATION;4\n".encode("cp1252")
    )
    result = reject(campagne, data)
    assert "Encodage mixte" in messages(result)
    assert "lignes en UTF-8 : 2" in messages(result)


def test_missing_required_column_is_named(campagne, existing, schools):
    data = make_csv([["BMP-9", schools[0].uai, "L1300", "4"]], header=["identifiant", "uai", "discipline", "hours"])
    result = reject(campagne, data)
    assert "Colonne obligatoire absente : « heures »" in messages(result)
    assert result.errors[0].line == 1


def test_empty_file_is_rejected(campagne, existing):
    result = reject(campagne, b"")
    assert "Le fichier est vide." in messages(result)


def test_header_only_is_rejected(campagne, existing):
    result = reject(campagne, make_csv([]))
    assert "ne contient que l'en-tête" in messages(result)


def test_truncated_last_line_is_rejected(campagne, existing, same_file, schools):
    data = same_file + f"BMP-4;{schools[3].uai};L13".encode()
    result = reject(campagne, data)
    error = result.errors[0]
    assert error.line == 5
    assert "3 champ(s) au lieu de 5" in error.message
    assert "tronquée" in error.message


def test_comma_instead_of_semicolon_on_one_line_is_rejected(campagne, existing, schools):
    data = make_csv(
        [
            ["BMP-1", schools[0].uai, "L1300", "MATHEMATIQUES", "9"],
            [",".join(["BMP-2", schools[1].uai, "L0202", "LETTRES MODERNES", "6.5"])],
        ]
    )
    result = reject(campagne, data)
    assert result.errors[0].line == 3
    assert "Le séparateur de cette ligne semble être « , » au lieu de « ; »" in result.errors[0].message


# --- Values -----------------------------------------------------------------------------------


def test_unknown_uai_is_rejected_with_line_column_and_value(campagne, existing, same_file):
    unknown = valid_uai(999)
    result = reject(campagne, same_file + f"BMP-4;{unknown};L1300;MATHEMATIQUES;4\r\n".encode())
    (error,) = result.errors
    assert (error.line, error.column, error.value) == (5, "uai", unknown)
    assert f"Aucun établissement du référentiel ne porte l'UAI « {unknown} »." == error.message
    assert str(error).startswith(f"Ligne 5, colonne « uai », valeur « {unknown} » : ")


def test_uai_with_wrong_key_letter_is_rejected(campagne, existing, same_file, schools):
    uai = schools[3].uai
    wrong = uai[:7] + ("A" if uai[7] != "A" else "B")
    result = reject(campagne, same_file + f"BMP-4;{wrong};L1300;MATHEMATIQUES;4\r\n".encode())
    (error,) = result.errors
    assert (error.line, error.column, error.value) == (5, "uai", wrong)
    assert f"la lettre attendue est « {uai[7]} »" in error.message


def test_malformed_uai_is_rejected(campagne, existing, same_file):
    result = reject(campagne, same_file + b"BMP-4;094123;L1300;MATHEMATIQUES;4\r\n")
    assert "il faut 7 chiffres suivis d'une lettre" in result.errors[0].message


def test_unknown_discipline_without_label_is_rejected(campagne, existing, same_file, schools):
    result = reject(campagne, same_file + f"BMP-4;{schools[3].uai};L7777;;4\r\n".encode())
    (error,) = result.errors
    assert (error.line, error.column, error.value) == (5, "discipline", "L7777")
    assert "Discipline « L7777 » inconnue" in error.message
    assert "libelle_discipline" in error.message


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("0", "Les heures doivent être strictement positives."),
        ("-3", "Les heures doivent être strictement positives."),
        ("abc", "Heures invalides : la valeur n'est pas un nombre décimal (ex. 7,5)."),
        ("40", "Les heures d'un BMP ne peuvent pas dépasser 36 h par semaine."),
        ("7,555", "Heures invalides : la valeur a plus de 2 décimales."),
        ("", "Les heures sont vides."),
    ],
)
def test_hours_must_be_a_decimal_above_zero_at_most_36_with_two_decimals(
    campagne, existing, same_file, schools, hours, message
):
    result = reject(campagne, same_file + f"BMP-4;{schools[3].uai};L1300;MATHEMATIQUES;{hours}\r\n".encode())
    (error,) = result.errors
    assert (error.line, error.column, error.value) == (5, "heures", hours)
    assert error.message == message


def test_duplicate_identifiant_names_the_line_where_it_first_appeared(campagne, existing, same_file, schools):
    result = reject(campagne, same_file + f"BMP-2;{schools[3].uai};L1300;MATHEMATIQUES;4\r\n".encode())
    (error,) = result.errors
    assert (error.line, error.column, error.value) == (5, "identifiant", "BMP-2")
    assert error.message == "Identifiant en double : il figure déjà ligne 3."


def test_empty_identifiant_is_rejected(campagne, existing, same_file, schools):
    result = reject(campagne, same_file + f" ;{schools[3].uai};L1300;MATHEMATIQUES;4\r\n".encode())
    assert result.errors[0].message == "L'identifiant est vide."


def test_every_error_is_reported_not_only_the_first(campagne, existing, schools):
    data = make_csv(
        [
            ["BMP-1", schools[0].uai, "L1300", "", "abc"],
            ["BMP-2", "0000000A", "L7777", "", "4"],
            ["BMP-1", schools[1].uai, "L1300", "", "40"],
        ]
    )
    result = reject(campagne, data)
    found = [(e.line, e.column) for e in result.errors]
    assert found == [
        (2, "heures"),
        (3, "uai"),
        (3, "discipline"),
        (4, "identifiant"),
        (4, "heures"),
    ]
    assert ImportRun.objects.get().erreurs[0] == {
        "ligne": 2,
        "colonne": "heures",
        "valeur": "abc",
        "message": "Heures invalides : la valeur n'est pas un nombre décimal (ex. 7,5).",
    }


def test_rejected_run_is_recorded_with_file_details(campagne, existing, schools):
    data = make_csv([["BMP-1", schools[0].uai, "L1300", "", "0"]])
    result = refresh_bmps(campagne, data, filename="export.csv", started_by="M. Dupont")
    run = ImportRun.objects.get()
    assert run.pk == result.run.pk
    assert (run.statut, run.fichier, run.lance_par, run.campagne) == ("rejete", "export.csv", "M. Dupont", campagne)
    assert run.encodage == "UTF-8"
    assert run.separateur == ";"
    assert run.lignes == 1
    assert len(run.sha256) == 64
    assert run.duree is not None
    assert "rejeté" in result.summary_lines()[0]
    assert "rien n'a été modifié" in result.summary_lines()[0]
    assert not any("ajoutés" in line.lower() for line in result.summary_lines())


# --- Accepted variants -----------------------------------------------------------------------


def test_whole_file_with_comma_delimiter_is_accepted(campagne, schools, disciplines):
    data = make_csv(
        [["BMP-1", schools[0].uai, "L1300", "MATHEMATIQUES", "7.5"], ["BMP-2", schools[1].uai, "L0202", "", '"6,5"']],
        delimiter=",",
    )
    result = refresh_bmps(campagne, data, filename="bmp.csv")
    assert result.statut == StatutImport.APPLIQUE, result.errors
    assert result.delimiter == ","
    assert dict(BMP.objects.values_list("identifiant", "heures")) == {"BMP-1": Decimal("7.5"), "BMP-2": Decimal("6.5")}
    assert "séparateur : virgule (,)" in "\n".join(result.summary_lines())


@pytest.mark.parametrize("hours", ["7,5", "7.5", "7,50"])
def test_decimal_comma_or_point_is_accepted(campagne, schools, disciplines, hours):
    data = make_csv([["BMP-1", schools[0].uai, "L1300", "MATHEMATIQUES", hours]])
    result = refresh_bmps(campagne, data, filename="bmp.csv")
    assert result.statut == StatutImport.APPLIQUE, result.errors
    assert BMP.objects.get().heures == Decimal("7.5")


def test_utf8_bom_is_accepted_and_reported(campagne, schools, disciplines):
    data = make_csv([["BMP-1", schools[0].uai, "L1300", "MATHEMATIQUES", "4"]], bom=True)
    result = refresh_bmps(campagne, data, filename="bmp.csv")
    assert result.statut == StatutImport.APPLIQUE, result.errors
    assert result.encoding == "UTF-8 (avec BOM)"
    assert BMP.objects.get().identifiant == "BMP-1"


def test_windows_1252_with_accents_in_the_label_is_accepted(campagne, schools, disciplines):
    data = make_csv(
        [["BMP-1", schools[0].uai, "L8010", "Éducation à la santé – prévention", "4"]],
        encoding="cp1252",
    )
    result = refresh_bmps(campagne, data, filename="bmp.csv")
    assert result.statut == StatutImport.APPLIQUE, result.errors
    assert result.encoding == "Windows-1252"
    assert Discipline.objects.get(code="L8010").libelle == "Éducation à la santé – prévention"


def test_header_names_match_without_case_accents_spaces_or_underscores(campagne, schools, disciplines):
    data = make_csv(
        [[schools[0].uai, "BMP-1", "4", "l1300", "Mathématiques"]],
        header=["UAI", " Identifiant ", "HEURES", "Discipline", "Libellé discipline"],
    )
    result = refresh_bmps(campagne, data, filename="bmp.csv")
    assert result.statut == StatutImport.APPLIQUE, result.errors
    bmp = BMP.objects.get()
    assert (bmp.identifiant, bmp.etablissement, bmp.discipline.code, bmp.heures) == (
        "BMP-1",
        schools[0],
        "L1300",
        Decimal("4"),
    )


def test_optional_label_column_may_be_absent(campagne, schools, disciplines):
    data = make_csv([["BMP-1", schools[0].uai, "L1300", "4"]], header=["identifiant", "uai", "discipline", "heures"])
    result = refresh_bmps(campagne, data, filename="bmp.csv")
    assert result.statut == StatutImport.APPLIQUE, result.errors


def test_unknown_discipline_with_a_label_is_created_and_listed(campagne, schools, disciplines):
    data = make_csv(
        [
            ["BMP-1", schools[0].uai, "L8011", "", "4"],
            ["BMP-2", schools[1].uai, "l8011", "NUMERIQUE ET SCIENCES INFORMATIQUES", "3"],
        ]
    )
    result = refresh_bmps(campagne, data, filename="bmp.csv")
    assert result.statut == StatutImport.APPLIQUE, result.errors
    created = Discipline.objects.get(code="L8011")
    assert created.libelle == "NUMERIQUE ET SCIENCES INFORMATIQUES"
    assert created.heures_temps_plein == 18
    assert BMP.objects.filter(discipline=created).count() == 2
    assert result.disciplines_creees == [{"code": "L8011", "libelle": "NUMERIQUE ET SCIENCES INFORMATIQUES"}]
    assert ImportRun.objects.get().disciplines_creees == result.disciplines_creees
    assert "Disciplines créées : L8011 (NUMERIQUE ET SCIENCES INFORMATIQUES)." in result.summary_lines()


def test_lower_case_uai_is_accepted(campagne, schools, disciplines):
    data = make_csv([["BMP-1", schools[0].uai.lower(), "L1300", "", "4"]])
    result = refresh_bmps(campagne, data, filename="bmp.csv")
    assert result.statut == StatutImport.APPLIQUE, result.errors
    assert BMP.objects.get().etablissement == schools[0]
