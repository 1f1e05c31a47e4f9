"""Importing disciplines de poste (FORMATS.md "Reference data", disciplines)."""

import pytest

from establishments.csvfiles import ImportFileError
from establishments.models import Discipline
from establishments.services import import_disciplines, read_file
from tests.factories import BMPFactory

from .conftest import DISCIPLINES_FILE, csv_bytes

pytestmark = pytest.mark.django_db


def test_real_file_loads_16_disciplines_with_20_hours_for_eps(db):
    result = import_disciplines(read_file(DISCIPLINES_FILE))
    assert result.added == 16
    hours = dict(Discipline.objects.values_list("code", "heures_temps_plein"))
    assert len(hours) == 16
    assert hours.pop("L1900") == 20
    assert set(hours.values()) == {18}
    assert Discipline.objects.get(code="L1300").libelle == "MATHEMATIQUES"


def test_reimporting_the_same_file_changes_nothing_and_says_so(db):
    import_disciplines(read_file(DISCIPLINES_FILE))
    result = import_disciplines(read_file(DISCIPLINES_FILE))
    assert (result.added, result.updated, result.unchanged) == (0, 0, 16)
    assert not result.has_changes


def test_empty_hours_give_18_to_a_new_discipline_and_keep_a_known_ones(db):
    Discipline.objects.create(code="L1900", libelle="EPS", heures_temps_plein=20)
    result = import_disciplines(
        csv_bytes("code;libelle;heures_temps_plein", "L1300;MATHEMATIQUES;", "L1900;EDUCATION PHYSIQUE ET SPORTIVE;")
    )
    assert Discipline.objects.get(code="L1300").heures_temps_plein == 18
    eps = Discipline.objects.get(code="L1900")
    assert (eps.libelle, eps.heures_temps_plein) == ("EDUCATION PHYSIQUE ET SPORTIVE", 20)
    assert [(c.key, c.fields) for c in result.updated_items] == [("L1900", ("libellé",))]


def test_the_hours_column_is_optional(db):
    import_disciplines(csv_bytes("Code;Libellé", "L1300;MATHÉMATIQUES"))
    assert Discipline.objects.get(code="L1300").heures_temps_plein == 18


def test_changed_hours_are_updated(db):
    import_disciplines(read_file(DISCIPLINES_FILE))
    result = import_disciplines(csv_bytes("code;libelle;heures_temps_plein", "L1300;MATHEMATIQUES;20,0"))
    assert [(c.key, c.fields) for c in result.updated_items] == [("L1300", ("heures d'un temps plein",))]
    assert Discipline.objects.get(code="L1300").heures_temps_plein == 20


def test_invalid_rows_are_reported_with_line_column_and_value_and_nothing_is_written(db):
    data = csv_bytes(
        "code;libelle;heures_temps_plein",
        "L1300;MATHEMATIQUES;18",
        "L1400;TECHNOLOGIE;0",
        "L1500;PHYSIQUE CHIMIE;37",
        "L1600;SVT;7,5",
        "L1700;EDUCATION MUSICALE;dix-huit",
        "L 18;ARTS PLASTIQUES;18",
        "L1300;MATHS;18",
        "L1900;;20",
    )
    with pytest.raises(ImportFileError) as exc:
        import_disciplines(data)
    assert [(e.line, e.column, e.value) for e in exc.value.errors] == [
        (3, "heures_temps_plein", "0"),
        (4, "heures_temps_plein", "37"),
        (5, "heures_temps_plein", "7,5"),
        (6, "heures_temps_plein", "dix-huit"),
        (7, "code", "L 18"),
        (8, "code", "L1300"),
        (9, "libelle", ""),
    ]
    assert exc.value.errors[0].message == "Le temps plein doit être un nombre entier d'heures entre 1 et 36."
    assert exc.value.errors[3].message == "Ce nombre d'heures n'est pas un nombre décimal (ex. 7,5)."
    assert not Discipline.objects.exists()


def test_disciplines_absent_from_the_file_are_never_deleted(db):
    bmp = BMPFactory(discipline__code="L0080", discipline__libelle="DISCIPLINE DE TEST")
    import_disciplines(read_file(DISCIPLINES_FILE))
    assert Discipline.objects.filter(code="L0080").exists()
    bmp.refresh_from_db()
    assert bmp.discipline.code == "L0080"
