"""Importing zones de remplacement (FORMATS.md "Reference data", zones).

No zones file is published: the zones below are test data made up for these tests only.
"""

import pytest

from establishments.csvfiles import ImportFileError
from establishments.models import ZoneRemplacement
from establishments.services import import_zones

from .conftest import csv_bytes

pytestmark = pytest.mark.django_db

HEADER = "code_zone;libelle_zone;code_insee"


def zone_communes(code: str) -> set[str]:
    return set(ZoneRemplacement.objects.get(code=code).communes.values_list("code_insee", flat=True))


def test_zones_are_created_with_their_communes(communes):
    data = csv_bytes(
        HEADER,
        "ZR-TEST-1;Zone de test un;94028",
        "ZR-TEST-1;Zone de test un;94046",
        "ZR-TEST-2;Zone de test deux;93055",
    )
    result = import_zones(data)
    assert result.added == 2
    assert zone_communes("ZR-TEST-1") == {"94028", "94046"}
    assert zone_communes("ZR-TEST-2") == {"93055"}
    assert ZoneRemplacement.objects.get(code="ZR-TEST-2").libelle == "Zone de test deux"


def test_reimporting_the_same_file_changes_nothing_and_says_so(communes):
    data = csv_bytes(HEADER, "ZR-TEST-1;Zone de test un;94028", "ZR-TEST-1;Zone de test un;94046")
    import_zones(data)
    result = import_zones(data)
    assert (result.added, result.updated, result.unchanged) == (0, 0, 1)
    assert not result.has_changes


def test_reimport_sets_each_zone_to_exactly_the_files_communes_and_leaves_other_zones_alone(communes):
    import_zones(
        csv_bytes(
            HEADER,
            "ZR-TEST-1;Zone de test un;94028",
            "ZR-TEST-1;Zone de test un;94046",
            "ZR-TEST-2;Zone de test deux;93055",
        )
    )
    result = import_zones(
        csv_bytes(HEADER, "ZR-TEST-1;Zone de test numéro un;94046", "ZR-TEST-1;Zone de test numéro un;94081")
    )
    assert zone_communes("ZR-TEST-1") == {"94046", "94081"}
    assert ZoneRemplacement.objects.get(code="ZR-TEST-1").libelle == "Zone de test numéro un"
    assert [(c.key, c.fields) for c in result.updated_items] == [
        ("ZR-TEST-1", ("libellé", "communes : 1 ajoutée(s), 1 retirée(s)"))
    ]
    assert zone_communes("ZR-TEST-2") == {"93055"}


def test_a_zone_commune_must_exist_and_nothing_is_written_otherwise(communes):
    data = csv_bytes(HEADER, "ZR-TEST-1;Zone de test un;94028", "ZR-TEST-1;Zone de test un;94999")
    with pytest.raises(ImportFileError) as exc:
        import_zones(data)
    [error] = exc.value.errors
    assert (error.line, error.column, error.value) == (3, "code_insee", "94999")
    assert error.message.startswith("Commune inconnue : importez d'abord les communes")
    assert not ZoneRemplacement.objects.exists()


def test_inconsistent_labels_duplicates_and_empty_codes_are_errors(communes):
    data = csv_bytes(
        HEADER,
        "ZR-TEST-1;Zone de test un;94028",
        "ZR-TEST-1;Autre libellé;94046",
        "ZR-TEST-1;Zone de test un;94028",
        ";Zone sans code;94081",
    )
    with pytest.raises(ImportFileError) as exc:
        import_zones(data)
    assert [(e.line, e.column) for e in exc.value.errors] == [(3, "libelle_zone"), (4, "code_insee"), (5, "code_zone")]
    assert "ligne 2" in exc.value.errors[0].message
    assert not ZoneRemplacement.objects.exists()
