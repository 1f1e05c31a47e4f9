"""Importing communes (FORMATS.md "Reference data", communes)."""

import pytest

from establishments.csvfiles import ImportFileError
from establishments.models import Commune, Departement
from establishments.services import import_communes, read_file
from tests.factories import BMPFactory, EtablissementFactory

from .conftest import COMMUNES_FILE, csv_bytes, header_of, real_line

pytestmark = pytest.mark.django_db

HEADER = "code_insee;nom;departement;codes_postaux;latitude_centre;longitude_centre"


def test_real_file_loads_the_594_communes_of_77_93_94(communes):
    assert communes.added == 594
    assert communes.encoding == "UTF-8"
    assert Commune.objects.count() == 594
    per_departement = {d.code: d.communes.count() for d in Departement.objects.all()}
    assert per_departement == {"77": 507, "93": 40, "94": 47}
    creteil = Commune.objects.get(code_insee="94028")
    assert (creteil.nom, creteil.code_postal, creteil.latitude, creteil.longitude) == (
        "Créteil",
        "94000",
        48.784,
        2.455,
    )
    # Pierrefitte-sur-Seine is kept: the 2024 school data still uses its code.
    assert Commune.objects.get(code_insee="93059").nom == "Pierrefitte-sur-Seine"


def test_code_postal_is_the_first_of_the_codes_postaux_and_all_are_stored(db):
    result = import_communes(csv_bytes(HEADER, "94068;Saint-Maur-des-Fossés;94;94100|94210;48.799;2.494"))
    assert result.added == 1
    commune = Commune.objects.get(code_insee="94068")
    assert (commune.code_postal, commune.codes_postaux) == ("94100", "94100|94210")


def test_departement_code_077_is_the_same_as_77(db):
    import_communes(csv_bytes(HEADER, "77001;Achères-la-Forêt;077;77760;48.348;2.565"))
    assert Commune.objects.get(code_insee="77001").departement.code == "77"
    assert Departement.objects.count() == 3


def test_reimporting_the_same_file_changes_nothing_and_says_so(communes):
    result = import_communes(read_file(COMMUNES_FILE))
    assert (result.added, result.updated, result.unchanged) == (0, 0, 594)
    assert not result.has_changes


def test_a_changed_value_is_updated_and_reported(communes):
    line = real_line(COMMUNES_FILE, "94028").replace(";94000;", ";94000|94010;")
    result = import_communes(csv_bytes(header_of(COMMUNES_FILE), line))
    assert [(c.key, c.fields) for c in result.updated_items] == [("94028", ("codes postaux",))]
    assert Commune.objects.get(code_insee="94028").codes_postaux == "94000|94010"


def test_an_unknown_departement_without_its_name_is_an_error(db):
    with pytest.raises(ImportFileError) as exc:
        import_communes(csv_bytes(HEADER, "75056;Paris;75;75001;48.856;2.352"))
    [error] = exc.value.errors
    assert (error.line, error.column, error.value) == (2, "departement", "75")
    assert error.message.startswith("Département inconnu")
    assert not Departement.objects.filter(code="75").exists()
    assert not Commune.objects.exists()


def test_an_unknown_departement_is_created_when_the_file_gives_its_name(db):
    result = import_communes(csv_bytes(HEADER + ";nom_departement", "75056;Paris;75;75001|75002;48.856;2.352;Paris"))
    assert Departement.objects.get(code="75").nom == "Paris"
    assert result.notes == ["Département ajouté : 75 – Paris."]
    assert Commune.objects.get(code_insee="75056").departement.code == "75"


def test_invalid_rows_are_all_reported_and_nothing_is_written(db):
    data = csv_bytes(
        HEADER,
        "94028;Créteil;94;94000;48.784;2.455",
        "9402;Créteil;94;94000;48.784;2.455",
        "94028;Créteil bis;94;94000;48.784;2.455",
        "94041;;94;94200;48.813;2.387",
        "94046;Maisons-Alfort;93;94700;48.806;2.438",
        "94081;Vitry-sur-Seine;94;944;48.788;2.394",
        "94002;Alfortville;94;94140;148.796;",
    )
    with pytest.raises(ImportFileError) as exc:
        import_communes(data)
    assert [(e.line, e.column) for e in exc.value.errors] == [
        (3, "code_insee"),
        (4, "code_insee"),
        (5, "nom"),
        (6, "code_insee"),
        (7, "codes_postaux"),
        (8, "latitude_centre"),
        (8, "longitude_centre"),
    ]
    assert exc.value.errors[1].message == "Commune en double (déjà ligne 2)."
    assert not Commune.objects.exists()


def test_communes_absent_from_the_file_are_never_deleted(db):
    bmp = BMPFactory(etablissement=EtablissementFactory(commune__code_insee="94999"))
    import_communes(csv_bytes(HEADER, "94028;Créteil;94;94000;48.784;2.455"))
    assert Commune.objects.filter(code_insee="94999").exists()
    bmp.refresh_from_db()
    assert bmp.etablissement.commune.code_insee == "94999"
