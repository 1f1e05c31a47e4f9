"""Importing schools from the Ministry's published files (FORMATS.md "Reference data", schools)."""

import pytest

from establishments.csvfiles import ImportFileError
from establishments.enums import Position, TypeEtablissement
from establishments.models import Commune, Etablissement
from establishments.services import (
    FORMAT_ANNUAIRE,
    FORMAT_GEOLOC,
    FORMAT_IPS,
    SKIP_FERME_INCONNU,
    SKIP_HORS_ACADEMIE,
    SKIP_MINISTERE,
    SKIP_PREMIER_DEGRE,
    SKIP_PRIVE,
    SKIP_TYPE,
    import_etablissements,
    read_file,
)
from establishments.uai import uai_check_letter
from tests.factories import BMPFactory

from .conftest import (
    ANNUAIRE_FILE,
    COLLEGES_FILE,
    LYCEES_FILE,
    annuaire_file,
    csv_bytes,
    header_of,
    real_line,
)

pytestmark = pytest.mark.django_db

MEN = "MINISTERE DE L'EDUCATION NATIONALE"
# Real schools of the shipped files (fixtures/): a collège of Joinville-le-Pont and two lycées of 94.
COLLEGE_JULES_FERRY = "0940012C"  # Joinville-le-Pont (94042), geolocation file
LYCEE_LANGEVIN_WALLON = "0940113M"  # Champigny-sur-Marne (94017), IPS file, LPO
LYCEE_ROMAIN_ROLLAND = "0940115P"  # Ivry-sur-Seine (94041), IPS file, LEGT
COLLEGE_SANS_COORDONNEES = "0773007A"  # the one collège of the geolocation file without coordinates


def synthetic_uai(digits: str) -> str:
    """A valid UAI for a made-up test row (test data only, never shipped)."""
    return digits + uai_check_letter(digits)


def annuaire_row(uai, nom, type_etablissement, nature, commune, departement="094", **cells) -> dict:
    row = {
        "Identifiant_de_l_etablissement": uai,
        "Nom_etablissement": nom,
        "Type_etablissement": type_etablissement,
        "Statut_public_prive": "Public",
        "Code_commune": commune,
        "Code_departement": departement,
        "etat": "OUVERT",
        "ministere_tutelle": MEN,
        "libelle_nature": nature,
    }
    row.update(cells)
    return row


def geoloc_file(*lines: str, encoding: str = "utf-8") -> bytes:
    return csv_bytes(header_of(COLLEGES_FILE), *lines, encoding=encoding)


def with_cells(path, uai: str, **changes) -> str:
    """A real line of a shipped file with some cells changed (named by the file's column names)."""
    header = header_of(path).split(";")
    cells = real_line(path, uai).split(";")
    for column, value in changes.items():
        cells[header.index(column)] = value
    return ";".join(cells)


# --------------------------------------------------------------------------- formats and kinds


def test_real_annuaire_sample_of_ecoles_is_skipped_whole_as_premier_degre():
    result = import_etablissements(read_file(ANNUAIRE_FILE))
    assert result.format == FORMAT_ANNUAIRE.name
    assert result.lines == 613
    assert result.skipped == {SKIP_PREMIER_DEGRE: 613}
    assert (result.added, result.updated, result.unchanged, result.closed) == (0, 0, 0, 0)
    assert not Etablissement.objects.exists()


def test_annuaire_format_keeps_public_second_degree_schools_and_counts_the_others_by_reason(communes):
    data = annuaire_file(
        [
            annuaire_row(COLLEGE_JULES_FERRY, "Collège Jules Ferry", "Collège", "COLLEGE", "94042",
                         code_nature="340", latitude="48.82476297559611", longitude="2.476955513725688"),
            annuaire_row(LYCEE_LANGEVIN_WALLON, "Lycée polyvalent Langevin-Wallon", "Lycée", "LYCEE POLYVALENT",
                         "94017", code_nature="306", latitude="48.8151", longitude="2.5153"),
            annuaire_row(LYCEE_ROMAIN_ROLLAND, "Lycée Romain Rolland", "Lycée",
                         "LYCEE ENSEIGNT GENERAL ET TECHNOLOGIQUE", "94041", code_nature="300"),
            annuaire_row(synthetic_uai("0949001"), "Lycée professionnel de test", "Lycée", "LYCEE PROFESSIONNEL",
                         "94028", code_nature="320"),
            annuaire_row(synthetic_uai("0949002"), "EREA de test", "EREA",
                         "ETABLISSEMENT REGIONAL D'ENSEIGNT ADAPTE", "94028", code_nature="370"),
            annuaire_row(synthetic_uai("0949003"), "Ecole maternelle de test", "Ecole", "ECOLE MATERNELLE", "94028",
                         code_nature="101"),
            annuaire_row(synthetic_uai("0949004"), "Collège privé de test", "Collège", "COLLEGE", "94028",
                         Statut_public_prive="Privé"),
            annuaire_row(synthetic_uai("0949005"), "SEP de test", "Lycée", "SECTION D ENSEIGNEMENT PROFESSIONNEL",
                         "94028", code_nature="334"),
            annuaire_row(synthetic_uai("0949006"), "CIO de test", "Information et orientation",
                         "CENTRE D INFORMATION ET D ORIENTATION", "94028"),
            annuaire_row(synthetic_uai("0949007"), "Lycée agricole de test", "Lycée",
                         "LYCEE D ENSEIGNEMENT GENERAL ET TECHNOLOGIQUE", "94028",
                         ministere_tutelle="MINISTERE DE L'AGRICULTURE ET DE LA SOUVERAINETE ALIMENTAIRE"),
        ]
    )  # fmt: skip
    result = import_etablissements(data)

    assert result.format == FORMAT_ANNUAIRE.name
    assert result.added == 5
    assert result.skipped == {SKIP_PREMIER_DEGRE: 1, SKIP_PRIVE: 1, SKIP_TYPE: 2, SKIP_MINISTERE: 1}
    assert result.skipped_types == {
        "SECTION D ENSEIGNEMENT PROFESSIONNEL": 1,
        "CENTRE D INFORMATION ET D ORIENTATION": 1,
    }
    kinds = dict(Etablissement.objects.values_list("uai", "type"))
    assert kinds == {
        COLLEGE_JULES_FERRY: TypeEtablissement.COLLEGE,
        LYCEE_LANGEVIN_WALLON: TypeEtablissement.LPO,
        LYCEE_ROMAIN_ROLLAND: TypeEtablissement.LGT,
        synthetic_uai("0949001"): TypeEtablissement.LP,
        synthetic_uai("0949002"): TypeEtablissement.EREA,
    }
    college = Etablissement.objects.get(uai=COLLEGE_JULES_FERRY)
    assert college.nom == "Collège Jules Ferry"
    assert college.commune.code_insee == "94042"
    assert college.departement.code == "94"
    assert (college.latitude, college.longitude, college.position) == (
        48.82476297559611,
        2.476955513725688,
        Position.EXACTE,
    )
    # No coordinates on the Romain Rolland row: placed at Ivry-sur-Seine's centre.
    lycee = Etablissement.objects.get(uai=LYCEE_ROMAIN_ROLLAND)
    assert lycee.position == Position.APPROXIMATIVE
    assert (lycee.latitude, lycee.longitude) == (lycee.commune.latitude, lycee.commune.longitude)


@pytest.mark.parametrize(
    ("type_etablissement", "nature", "code_nature", "expected"),
    [
        ("Collège", "COLLEGE", "340", TypeEtablissement.COLLEGE),
        ("Collège", "COLLEGE SPECIALISE", "352", TypeEtablissement.COLLEGE),
        ("Collège", "COLLEGE CLIMATIQUE", "350", TypeEtablissement.COLLEGE),
        ("Collège", "", "", TypeEtablissement.COLLEGE),
        ("Lycée", "LYCEE D ENSEIGNEMENT GENERAL ET TECHNOLOGIQUE", "", TypeEtablissement.LGT),
        ("Lycée", "LYCEE ENSEIGNT GENERAL ET TECHNOLOGIQUE", "300", TypeEtablissement.LGT),
        ("Lycée", "LYCEE D ENSEIGNEMENT GENERAL", "302", TypeEtablissement.LGT),
        ("Lycée", "LYCEE D ENSEIGNEMENT TECHNOLOGIQUE", "301", TypeEtablissement.LGT),
        ("Lycée", "LYCEE POLYVALENT", "306", TypeEtablissement.LPO),
        ("Lycée", "LYCEE PROFESSIONNEL", "320", TypeEtablissement.LP),
        ("EREA", "ETABLISSEMENT REGIONAL D'ENSEIGNEMENT ADAPTE", "", TypeEtablissement.EREA),
        ("EREA", "ETABLISSEMENT REGIONAL D'ENSEIGNT ADAPTE", "370", TypeEtablissement.EREA),
        ("EREA", "ETAB REGIONAL/LYCEE ENSEIGNEMENT ADAPTE", "", TypeEtablissement.EREA),
        ("EREA", "", "", TypeEtablissement.EREA),
    ],
)
def test_annuaire_natures_map_to_the_kinds_jumo_keeps(communes, type_etablissement, nature, code_nature, expected):
    uai = synthetic_uai("0949010")
    row = annuaire_row(uai, "Etablissement de test", type_etablissement, nature, "94028", code_nature=code_nature)
    result = import_etablissements(annuaire_file([row]))
    assert result.added == 1
    assert Etablissement.objects.get(uai=uai).type == expected


@pytest.mark.parametrize(
    ("type_etablissement", "nature", "code_nature", "reason"),
    [
        ("Ecole", "ECOLE DE NIVEAU ELEMENTAIRE", "151", SKIP_PREMIER_DEGRE),
        ("Ecole", "ECOLE ELEMENTAIRE D APPLICATION", "153", SKIP_PREMIER_DEGRE),
        ("Autre", "ECOLE REGIONALE DU PREMIER DEGRE", "169", SKIP_PREMIER_DEGRE),
        ("Ecole", "ECOLE SANS EFFECTIFS PERMANENTS", "", SKIP_PREMIER_DEGRE),
        ("Lycée", "SECTION ENSEIGT GENERAL ET TECHNOLOGIQUE", "335", SKIP_TYPE),
        ("Collège", "SECTION ENSEIGNT GEN. ET PROF. ADAPTE", "390", SKIP_TYPE),
        ("Lycée", "LYCEE ENS GENERAL TECHNO PROF AGRICOLE", "307", SKIP_TYPE),
        ("Médico-social", "INSTITUT MEDICO-EDUCATIF", "", SKIP_TYPE),
        ("Lycée", "", "", SKIP_TYPE),
    ],
)
def test_annuaire_rows_jumo_does_not_pair_are_skipped_with_their_reason(
    communes, type_etablissement, nature, code_nature, reason
):
    row = annuaire_row(synthetic_uai("0949011"), "Test", type_etablissement, nature, "94028", code_nature=code_nature)
    result = import_etablissements(annuaire_file([row]))
    assert result.skipped == {reason: 1}
    assert not Etablissement.objects.exists()


def test_rows_of_departements_outside_the_referentiel_are_skipped_so_a_national_file_loads(communes):
    data = annuaire_file(
        [
            annuaire_row(synthetic_uai("0759001"), "Collège parisien de test", "Collège", "COLLEGE", "75056",
                         departement="075"),
            annuaire_row(COLLEGE_JULES_FERRY, "Collège Jules Ferry", "Collège", "COLLEGE", "94042"),
        ]
    )  # fmt: skip
    result = import_etablissements(data)
    assert result.skipped == {SKIP_HORS_ACADEMIE: 1}
    assert list(Etablissement.objects.values_list("uai", flat=True)) == [COLLEGE_JULES_FERRY]


def test_real_geolocation_file_is_recognised_and_loads_the_372_public_colleges(communes):
    result = import_etablissements(read_file(COLLEGES_FILE))
    assert result.format == FORMAT_GEOLOC.name
    assert (result.added, result.skipped_total) == (372, 0)
    assert Etablissement.objects.filter(type=TypeEtablissement.COLLEGE, public=True, ouvert=True).count() == 372
    # Département from the file's 077/093/094.
    assert dict(Etablissement.objects.values_list("uai", "departement__code"))["0772819W"] == "77"
    college = Etablissement.objects.get(uai="0931713G")
    assert college.nom == "Collège Lavoisier"
    assert college.commune.code_insee == "93055"
    assert college.position == Position.EXACTE


def test_college_a_ouvrir_is_imported_open(communes):
    import_etablissements(geoloc_file(real_line(COLLEGES_FILE, COLLEGE_SANS_COORDONNEES)))
    assert Etablissement.objects.get(uai=COLLEGE_SANS_COORDONNEES).ouvert is True


def test_the_college_without_coordinates_is_placed_at_its_commune_centre(communes):
    result = import_etablissements(read_file(COLLEGES_FILE))
    assert result.approximate == 1
    college = Etablissement.objects.get(uai=COLLEGE_SANS_COORDONNEES)
    commune = Commune.objects.get(code_insee="77239")
    assert college.commune == commune
    assert (college.latitude, college.longitude, college.position) == (
        commune.latitude,
        commune.longitude,
        Position.APPROXIMATIVE,
    )


def test_real_ips_file_places_lycees_at_their_commune_centre_with_an_approximate_position(communes):
    result = import_etablissements(read_file(LYCEES_FILE))
    assert result.format == FORMAT_IPS.name
    assert result.added == 166
    assert result.approximate == 166
    counts = {t: Etablissement.objects.filter(type=t).count() for t in TypeEtablissement.values}
    assert counts == {"COLLEGE": 0, "LGT": 49, "LPO": 96, "LP": 21, "EREA": 0}
    lycee = Etablissement.objects.get(uai=LYCEE_LANGEVIN_WALLON)
    assert lycee.nom == "LYCEE POLYVALENT LANGEVIN WALLON"
    assert lycee.position == Position.APPROXIMATIVE
    assert (lycee.latitude, lycee.longitude) == (48.817, 2.517)  # Champigny-sur-Marne's centre
    assert not Etablissement.objects.exclude(position=Position.APPROXIMATIVE).exists()


def test_coordinates_from_a_later_annuaire_import_replace_approximate_ones(communes):
    import_etablissements(read_file(LYCEES_FILE))
    row = annuaire_row(
        LYCEE_LANGEVIN_WALLON,
        "LYCEE POLYVALENT LANGEVIN WALLON",
        "Lycée",
        "LYCEE POLYVALENT",
        "94017",
        latitude="48.8151",  # test coordinates, not the school's published ones
        longitude="2.5153",
    )
    result = import_etablissements(annuaire_file([row]))
    assert [(c.key, c.fields) for c in result.updated_items] == [(LYCEE_LANGEVIN_WALLON, ("coordonnées",))]
    lycee = Etablissement.objects.get(uai=LYCEE_LANGEVIN_WALLON)
    assert (lycee.latitude, lycee.longitude, lycee.position) == (48.8151, 2.5153, Position.EXACTE)


def test_coordinates_from_a_later_geolocation_import_replace_approximate_ones(communes):
    college_line = real_line(COLLEGES_FILE, "0931713G")
    no_coordinates = with_cells(COLLEGES_FILE, "0931713G", latitude="", longitude="")
    import_etablissements(geoloc_file(no_coordinates))
    assert Etablissement.objects.get(uai="0931713G").position == Position.APPROXIMATIVE

    result = import_etablissements(geoloc_file(college_line))
    assert result.updated == 1
    college = Etablissement.objects.get(uai="0931713G")
    assert (college.latitude, college.longitude, college.position) == (
        48.88937122329808,
        2.4196866280306595,
        Position.EXACTE,
    )


def test_an_ips_import_never_overwrites_exact_coordinates(communes):
    row = annuaire_row(
        LYCEE_LANGEVIN_WALLON,
        "LYCEE POLYVALENT LANGEVIN WALLON",
        "Lycée",
        "LYCEE POLYVALENT",
        "94017",
        latitude="48.8151",
        longitude="2.5153",
    )
    import_etablissements(annuaire_file([row]))
    result = import_etablissements(csv_bytes(header_of(LYCEES_FILE), real_line(LYCEES_FILE, LYCEE_LANGEVIN_WALLON)))
    assert (result.unchanged, result.updated, result.approximate) == (1, 0, 0)
    lycee = Etablissement.objects.get(uai=LYCEE_LANGEVIN_WALLON)
    assert (lycee.latitude, lycee.longitude, lycee.position) == (48.8151, 2.5153, Position.EXACTE)


def test_an_ips_import_leaves_the_open_state_alone_since_it_has_none(communes):
    ips_line = csv_bytes(header_of(LYCEES_FILE), real_line(LYCEES_FILE, LYCEE_LANGEVIN_WALLON))
    import_etablissements(ips_line)
    Etablissement.objects.filter(uai=LYCEE_LANGEVIN_WALLON).update(ouvert=False)
    result = import_etablissements(ips_line)
    assert result.unchanged == 1
    assert Etablissement.objects.get(uai=LYCEE_LANGEVIN_WALLON).ouvert is False


def test_windows_1252_file_keeps_its_accents_and_says_which_encoding_was_used(communes):
    line = real_line(COLLEGES_FILE, "0940090M")  # Collège Paul Valéry, Thiais
    result = import_etablissements(geoloc_file(line, encoding="cp1252"))
    assert result.encoding == "Windows-1252"
    assert result.delimiter == "point-virgule (;)"
    assert Etablissement.objects.get(uai="0940090M").nom == "Collège Paul Valéry"


def test_comma_separated_file_is_read_too(communes):
    header = header_of(LYCEES_FILE).replace(";", ",")
    line = real_line(LYCEES_FILE, LYCEE_ROMAIN_ROLLAND).replace(";", ",")
    result = import_etablissements(csv_bytes(header, line))
    assert result.delimiter == "virgule (,)"
    assert result.added == 1


# --------------------------------------------------------------------------- re-imports, closures, deletions


def test_reimporting_the_same_file_changes_nothing_and_says_so(communes):
    import_etablissements(read_file(COLLEGES_FILE))
    result = import_etablissements(read_file(COLLEGES_FILE))
    assert (result.added, result.updated, result.closed, result.unchanged) == (0, 0, 0, 372)
    assert not result.has_changes
    assert "Aucun changement" in "\n".join(result.summary_lines())


def test_a_changed_name_is_updated_and_reported(communes):
    import_etablissements(geoloc_file(real_line(COLLEGES_FILE, "0931713G")))
    renamed = with_cells(COLLEGES_FILE, "0931713G", appellation_officielle="Collège Antoine Lavoisier")
    result = import_etablissements(geoloc_file(renamed))
    assert [(c.key, c.fields) for c in result.updated_items] == [("0931713G", ("nom",))]
    assert Etablissement.objects.get(uai="0931713G").nom == "Collège Antoine Lavoisier"


def test_a_school_the_file_says_ferme_is_closed_kept_and_reported(communes):
    import_etablissements(geoloc_file(real_line(COLLEGES_FILE, "0931713G")))
    bmp = BMPFactory(etablissement=Etablissement.objects.get(uai="0931713G"))
    closed = with_cells(COLLEGES_FILE, "0931713G", etat_etablissement="2", etat_etablissement_libe="FERME")

    result = import_etablissements(geoloc_file(closed))
    assert [c.key for c in result.closed_items] == ["0931713G"]
    assert result.updated == 0
    school = Etablissement.objects.get(uai="0931713G")
    assert school.ouvert is False
    bmp.refresh_from_db()
    assert bmp.etablissement == school
    assert "Fermés (conservés, marqués fermés) :" in result.summary_lines()

    again = import_etablissements(geoloc_file(closed))
    assert (again.closed, again.unchanged) == (0, 1)


def test_a_closed_school_the_file_says_open_is_reopened(communes):
    import_etablissements(geoloc_file(real_line(COLLEGES_FILE, "0931713G")))
    Etablissement.objects.filter(uai="0931713G").update(ouvert=False)
    result = import_etablissements(geoloc_file(real_line(COLLEGES_FILE, "0931713G")))
    assert [(c.key, c.fields) for c in result.updated_items] == [("0931713G", ("réouvert",))]
    assert Etablissement.objects.get(uai="0931713G").ouvert is True


def test_a_ferme_school_unknown_to_jumo_is_skipped_not_created(communes):
    closed = with_cells(COLLEGES_FILE, "0931713G", etat_etablissement="2", etat_etablissement_libe="FERME")
    result = import_etablissements(geoloc_file(closed))
    assert result.skipped == {SKIP_FERME_INCONNU: 1}
    assert not Etablissement.objects.exists()


def test_schools_absent_from_the_file_are_left_alone_even_with_bmps(communes):
    import_etablissements(read_file(LYCEES_FILE))
    bmp = BMPFactory(etablissement=Etablissement.objects.get(uai=LYCEE_ROMAIN_ROLLAND))
    result = import_etablissements(read_file(COLLEGES_FILE))
    assert result.closed == 0
    lycee = Etablissement.objects.get(uai=LYCEE_ROMAIN_ROLLAND)
    assert lycee.ouvert is True
    assert Etablissement.objects.count() == 166 + 372
    bmp.refresh_from_db()
    assert bmp.etablissement == lycee


def test_dry_run_counts_but_writes_nothing(communes):
    result = import_etablissements(read_file(COLLEGES_FILE), dry_run=True)
    assert result.added == 372
    assert result.dry_run
    assert not Etablissement.objects.exists()


def test_import_uses_a_constant_number_of_queries(communes, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        import_etablissements(read_file(COLLEGES_FILE))
    Etablissement.objects.filter(uai__startswith="093").update(nom="Ancien nom")
    with django_assert_max_num_queries(8):
        result = import_etablissements(read_file(COLLEGES_FILE))
    assert result.updated == 130


# --------------------------------------------------------------------------- errors


def test_a_wrong_key_letter_is_an_error_with_its_line_and_nothing_is_written(communes):
    good = real_line(COLLEGES_FILE, "0931713G")
    wrong = with_cells(COLLEGES_FILE, "0772819W", numero_uai="0772819X")
    with pytest.raises(ImportFileError) as exc:
        import_etablissements(geoloc_file(good, wrong))
    [error] = exc.value.errors
    assert (error.line, error.column, error.value) == (3, "numero_uai", "0772819X")
    assert error.message == "L'UAI « 0772819X » a une lettre clé erronée : la lettre attendue est « W »."
    assert str(error).startswith("Ligne 3, colonne « numero_uai », valeur « 0772819X » :")
    assert not Etablissement.objects.exists()


def test_an_unknown_commune_is_an_error_telling_to_import_communes_first(communes):
    unknown = with_cells(COLLEGES_FILE, "0931713G", code_commune="93999")
    with pytest.raises(ImportFileError) as exc:
        import_etablissements(geoloc_file(real_line(COLLEGES_FILE, "0772819W"), unknown))
    [error] = exc.value.errors
    assert (error.line, error.column, error.value) == (3, "code_commune", "93999")
    assert "importez d'abord les communes" in error.message
    assert not Etablissement.objects.exists()


def test_schools_cannot_be_imported_before_the_communes(db):
    with pytest.raises(ImportFileError) as exc:
        import_etablissements(read_file(LYCEES_FILE))
    assert len(exc.value.errors) == 166
    assert all("Commune inconnue" in e.message for e in exc.value.errors)


def test_every_error_of_the_file_is_reported_at_once_in_line_order(communes):
    lines = [
        with_cells(COLLEGES_FILE, "0931713G", code_commune="93999"),
        with_cells(COLLEGES_FILE, "0772819W", numero_uai="772819W"),
        with_cells(COLLEGES_FILE, "0940012C", latitude="quarante-huit"),
        with_cells(COLLEGES_FILE, "0940090M", etat_etablissement_libe="EN SOMMEIL"),
        with_cells(COLLEGES_FILE, "0940552P", secteur_public_prive_libe=""),
        real_line(COLLEGES_FILE, "0931713G"),
    ]
    with pytest.raises(ImportFileError) as exc:
        import_etablissements(geoloc_file(*lines))
    assert [(e.line, e.column) for e in exc.value.errors] == [
        (2, "code_commune"),
        (3, "numero_uai"),
        (4, "latitude"),
        (5, "etat_etablissement_libe"),
        (6, "secteur_public_prive_libe"),
        (7, "numero_uai"),
    ]
    messages = [e.message for e in exc.value.errors]
    assert messages[1].startswith("« 772819W » n'est pas un UAI")
    assert messages[2] == "Ce n'est pas un nombre (ex. 48.79)."
    assert messages[3].startswith("État non reconnu")
    assert messages[4].startswith("Secteur non reconnu")
    assert messages[5] == "UAI en double (déjà ligne 2)."


def test_a_departement_that_is_not_the_communes_is_an_error(communes):
    wrong = with_cells(COLLEGES_FILE, "0931713G", code_departement="094")
    with pytest.raises(ImportFileError) as exc:
        import_etablissements(geoloc_file(wrong))
    [error] = exc.value.errors
    assert (error.line, error.column, error.value) == (2, "code_departement", "94")
    assert "est dans le département 93" in error.message


def test_a_missing_column_is_named(communes):
    header = header_of(COLLEGES_FILE).split(";")
    index = header.index("nature_uai_libe")
    cells = real_line(COLLEGES_FILE, "0931713G").split(";")
    del header[index], cells[index]
    with pytest.raises(ImportFileError) as exc:
        import_etablissements(csv_bytes(";".join(header), ";".join(cells)))
    [error] = exc.value.errors
    assert error.line == 1
    assert error.message.startswith("Colonne obligatoire absente : « nature_uai_libe »")


def test_an_unrecognised_header_names_the_three_formats(communes):
    with pytest.raises(ImportFileError) as exc:
        import_etablissements(b"uai;nom;commune\n0931713G;College Lavoisier;93055\n")
    message = str(exc.value)
    assert message.startswith("Ligne 1 : En-tête non reconnu")
    for name in ("Annuaire de l'éducation", "Adresse et géolocalisation des établissements", "IPS des lycées"):
        assert name in message
