"""The shared CSV reader (FORMATS.md, rules common to every import)."""

import pytest

from establishments.csvfiles import (
    ENCODING_CP1252,
    ENCODING_UTF8,
    ENCODING_UTF8_BOM,
    ImportFileError,
    normalize_column,
    read_csv,
)

REQUIRED = {"code": "code", "libellediscipline": "libelle_discipline"}


def test_utf8_bom_is_detected_and_stripped_from_the_first_column():
    data = "\ufeffcode;libelle_discipline\r\nL1300;MATHÉMATIQUES\r\n".encode()
    csv_file = read_csv(data, REQUIRED)
    assert csv_file.encoding == ENCODING_UTF8_BOM
    assert "code" in csv_file.columns
    assert csv_file.value(csv_file.rows[0][1], "libellediscipline") == "MATHÉMATIQUES"


def test_utf8_without_bom_is_detected():
    csv_file = read_csv("code;libelle_discipline\nL1300;ÉDUCATION MUSICALE\n".encode(), REQUIRED)
    assert csv_file.encoding == ENCODING_UTF8


def test_windows_1252_is_detected_and_accents_are_kept():
    data = "code;libelle_discipline\r\nL1700;ÉDUCATION MUSICALE\r\n".encode("cp1252")
    csv_file = read_csv(data, REQUIRED)
    assert csv_file.encoding == ENCODING_CP1252
    assert csv_file.value(csv_file.rows[0][1], "libellediscipline") == "ÉDUCATION MUSICALE"


def test_mixed_utf8_and_windows_1252_lines_are_rejected_naming_the_utf8_lines():
    data = b"code;libelle_discipline\n" + "L1700;ÉDUCATION\n".encode() + "L1800;ÉDUCATION\n".encode("cp1252")
    with pytest.raises(ImportFileError) as exc:
        read_csv(data, REQUIRED)
    message = str(exc.value)
    assert "Encodage mixte" in message
    assert "lignes en UTF-8 : 2" in message


def test_utf16_is_rejected_in_french():
    with pytest.raises(ImportFileError) as exc:
        read_csv("code;libelle_discipline\nL1300;MATHS\n".encode("utf-16"), REQUIRED)
    assert "UTF-16" in str(exc.value)
    assert "enregistrez le fichier en UTF-8" in str(exc.value)


def test_comma_delimiter_is_detected_from_the_header():
    csv_file = read_csv(b"code,libelle_discipline\nL1300,MATHS\n", REQUIRED)
    assert csv_file.delimiter == ","
    assert csv_file.delimiter_label == "virgule (,)"
    assert csv_file.value(csv_file.rows[0][1], "code") == "L1300"


def test_semicolon_delimiter_is_detected_even_with_commas_in_values():
    csv_file = read_csv(b"code;libelle_discipline\nL1300;MATHS, SCIENCES\n", REQUIRED)
    assert csv_file.delimiter == ";"
    assert csv_file.value(csv_file.rows[0][1], "libellediscipline") == "MATHS, SCIENCES"


@pytest.mark.parametrize(
    "name", ["Libellé discipline", "libelle_discipline", "LIBELLE DISCIPLINE", "Libellé_Discipline"]
)
def test_column_names_match_without_case_accents_spaces_or_underscores(name):
    assert normalize_column(name) == normalize_column("libelle_discipline")
    csv_file = read_csv(f"code;{name}\nL1300;MATHS\n".encode(), REQUIRED)
    assert csv_file.value(csv_file.rows[0][1], "libellediscipline") == "MATHS"


def test_missing_required_column_is_named():
    with pytest.raises(ImportFileError) as exc:
        read_csv(b"code;libelle\nL1300;MATHS\n", REQUIRED)
    assert exc.value.errors[0].line == 1
    assert "Colonne obligatoire absente : « libelle_discipline »" in str(exc.value)


@pytest.mark.parametrize("data", [b"", b"   \r\n\r\n"])
def test_empty_file_is_rejected(data):
    with pytest.raises(ImportFileError) as exc:
        read_csv(data, REQUIRED)
    assert str(exc.value) == "Le fichier est vide."


def test_header_only_is_rejected():
    with pytest.raises(ImportFileError) as exc:
        read_csv(b"code;libelle_discipline\r\n", REQUIRED)
    assert "ne contient que l'en-tête" in str(exc.value)


def test_rows_with_a_wrong_field_count_are_all_reported_with_their_line():
    data = b"code;libelle_discipline\nL1300;MATHS\nL1400\nL1500;PHYSIQUE;EN TROP\n"
    with pytest.raises(ImportFileError) as exc:
        read_csv(data, REQUIRED)
    assert [(e.line, e.message.split(" au lieu")[0]) for e in exc.value.errors] == [
        (3, "1 champ(s)"),
        (4, "3 champ(s)"),
    ]
    assert "Ligne 3" in str(exc.value)


def test_blank_lines_are_ignored_and_line_numbers_stay_those_of_the_file():
    csv_file = read_csv(b"code;libelle_discipline\n\nL1300;MATHS\n", REQUIRED)
    assert [line for line, _fields in csv_file.rows] == [3]
