"""The DOS exports for the personnel division (issue 7): the jumelages of a campaign, one line
each, and the BMPs left unpaired, as CSV and XLSX, within the agent's perimeter."""

import csv
import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dos import exports
from dos.views_exports import reponse_export
from jumelages import services
from jumelages.enums import Motif
from tests.factories import BMPFactory, CampagneFactory, EtablissementFactory, agent_of
from tests.jumelages.monde import (
    ARCHIVEE,
    CONSULTATION,
    OUVERTE,
    PREPARATION,
    VALIDATION,
    ensure_services,
    jumelage_direct,
    pending,
)

pytestmark = pytest.mark.django_db

BOM = "\ufeff"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ENTETES_JUMELAGES = [
    "Discipline",
    "Libellé discipline",
    "UAI 1",
    "Établissement 1",
    "Commune 1",
    "Heures 1",
    "UAI 2",
    "Établissement 2",
    "Commune 2",
    "Heures 2",
    "UAI 3",
    "Établissement 3",
    "Commune 3",
    "Heures 3",
    "Total (h)",
    "Cible (h)",
    "Écart à la cible (h)",
    "Établissement de rattachement (UAI)",
    "État",
    "Origine",
    "Validé par",
    "Validé le",
]
ENTETES_BMP = [
    "Discipline",
    "Libellé discipline",
    "UAI",
    "Établissement",
    "Commune",
    "Département",
    "Identifiant BMP",
    "Heures",
    "Demande en attente",
]


@pytest.fixture
def s(w, at):
    """A small campaign, left in the open phase:
    j1 = A + B (maths, 9 + 10 h), built by the DSDEN 94 before opening;
    j2 = C + L + D (maths, 6 + 8 + 7 h), by requests: a collège of the 94 with lycée L;
    j3 = A + B (EPS, 10,5 + 9,5 h), built then deleted: its BMPs are free again, with a request
    pending between them; E's only request is past its deadline; a withdrawn BMP of C."""
    at(PREPARATION)
    w.A.commune.nom = "Créteil"
    w.A.commune.save()
    w.E.commune.nom = "Bobigny"
    w.E.commune.save()
    w.j1 = services.build_jumelage(w.agent94, [w.bmp_a, w.bmp_b])
    w.eps_a = BMPFactory(campagne=w.campagne, etablissement=w.A, discipline=w.eps, heures=Decimal("10.5"))
    w.eps_b = BMPFactory(campagne=w.campagne, etablissement=w.B, discipline=w.eps, heures=Decimal("9.5"))
    w.j3 = services.build_jumelage(w.agent94, [w.eps_a, w.eps_b])
    at(OUVERTE)
    services.delete_jumelage(w.agent94, w.j3, Motif.QUOTITE_INADAPTEE)
    w.j2 = services.accept_request(w.head_l, services.send_request(w.head_c, w.bmp_c, w.bmp_l))
    services.accept_request(w.head_c, services.send_request(w.head_d, w.bmp_d, w.j2))
    services.send_request(w.head_a, w.eps_a, w.eps_b)
    pending(w.bmp_e, w.bmp_a, envoyee_le=OUVERTE - datetime.timedelta(days=4))
    BMPFactory(campagne=w.campagne, etablissement=w.C, discipline=w.eps, actif=False)
    for j in (w.j1, w.j2, w.j3):
        j.refresh_from_db()
    return w


@pytest.fixture
def validee(s, at):
    """The DSDEN 94 validated j1 on 27 June 2024 at noon, Paris time (10:00 UTC)."""
    at(VALIDATION)
    services.validate_jumelage(s.agent94, s.j1)
    return s


def ligne_j1(w):
    return [
        "L1300", "MATHEMATIQUES",
        w.A.uai, "Collège A", "Créteil", "9",
        w.B.uai, "Collège B", "Créteil", "10",
        "", "", "", "",
        "19", "18", "1", w.B.uai,
        "Validé", "Construit par un service", "Agent QUATRE-VINGT-QUATORZE", "27/06/2024 12:00",
    ]  # fmt: skip


def ligne_j2(w):
    return [
        "L1300", "MATHEMATIQUES",
        w.C.uai, "Collège C", "Créteil", "6",
        w.L.uai, "Lycée L", "Créteil", "8",
        w.D.uai, "Collège D", "Créteil", "7",
        "21", "18", "3", w.L.uai,
        "Effectif", "Demande d'un établissement", "", "",
    ]  # fmt: skip


def ligne_j3(w):
    return [
        "L1900", "EPS",
        w.A.uai, "Collège A", "Créteil", "10,5",
        w.B.uai, "Collège B", "Créteil", "9,5",
        "", "", "", "",
        "20", "20", "0", w.A.uai,
        "Supprimé", "Construit par un service", "", "",
    ]  # fmt: skip


def lire_csv(contenu: bytes) -> list[list[str]]:
    texte = contenu.decode("utf-8")
    assert texte.startswith(BOM)
    return list(csv.reader(io.StringIO(texte[1:]), delimiter=";"))


def lire_xlsx(contenu: bytes):
    return openpyxl.load_workbook(io.BytesIO(contenu)).active


def valeurs(feuille) -> list[list]:
    return [[c.value for c in ligne] for ligne in feuille.iter_rows()]


def fichier(user, campagne, quoi, format, **options) -> bytes:
    return exports.exporter(user, campagne, quoi, format, **options)[0]


def numeros(user, campagne, **options) -> list[int]:
    return [ligne[-1] for ligne in exports.tableau_jumelages(user, campagne, **options).lignes]


# --- The jumelages, cell by cell ------------------------------------------------------------------


def test_csv_of_the_jumelages_cell_by_cell(validee):
    w = validee
    lignes = lire_csv(fichier(w.agent94, w.campagne, "jumelages", "csv"))
    assert lignes[0] == [*ENTETES_JUMELAGES, "N° de jumelage"]
    assert lignes[1:] == [[*ligne_j1(w), str(w.j1.pk)], [*ligne_j2(w), str(w.j2.pk)]]


def test_csv_with_the_deleted_jumelages_gives_when_and_why(validee):
    w = validee
    lignes = lire_csv(fichier(w.agent94, w.campagne, "jumelages", "csv", supprimes=True))
    assert lignes[0] == [*ENTETES_JUMELAGES, "Supprimé le", "Motif de suppression", "N° de jumelage"]
    assert lignes[1:] == [
        [*ligne_j1(w), "", "", str(w.j1.pk)],
        [*ligne_j2(w), "", "", str(w.j2.pk)],
        [*ligne_j3(w), "20/06/2024 12:00", "Quotité inadaptée", str(w.j3.pk)],
    ]


def test_xlsx_of_the_jumelages_cell_by_cell_with_numbers_as_numbers(validee):
    w = validee
    feuille = lire_xlsx(fichier(w.agent94, w.campagne, "jumelages", "xlsx", supprimes=True))
    assert feuille.title == "Jumelages 2024"
    assert feuille.freeze_panes == "A2"
    assert all(c.font.bold for c in feuille[1])
    assert feuille.auto_filter.ref == f"A1:{feuille.cell(row=1, column=feuille.max_column).column_letter}4"
    assert valeurs(feuille) == [
        [*ENTETES_JUMELAGES, "Supprimé le", "Motif de suppression", "N° de jumelage"],
        [
            "L1300", "MATHEMATIQUES",
            w.A.uai, "Collège A", "Créteil", 9,
            w.B.uai, "Collège B", "Créteil", 10,
            None, None, None, None,
            19, 18, 1, w.B.uai,
            "Validé", "Construit par un service", "Agent QUATRE-VINGT-QUATORZE",
            datetime.datetime(2024, 6, 27, 12, 0),
            None, None, w.j1.pk,
        ],
        [
            "L1300", "MATHEMATIQUES",
            w.C.uai, "Collège C", "Créteil", 6,
            w.L.uai, "Lycée L", "Créteil", 8,
            w.D.uai, "Collège D", "Créteil", 7,
            21, 18, 3, w.L.uai,
            "Effectif", "Demande d'un établissement", None, None,
            None, None, w.j2.pk,
        ],
        [
            "L1900", "EPS",
            w.A.uai, "Collège A", "Créteil", 10.5,
            w.B.uai, "Collège B", "Créteil", 9.5,
            None, None, None, None,
            20, 20, 0, w.A.uai,
            "Supprimé", "Construit par un service", None, None,
            datetime.datetime(2024, 6, 20, 12, 0), "Quotité inadaptée", w.j3.pk,
        ],
    ]  # fmt: skip
    for colonne in ("F", "J", "O", "P", "Q"):  # Heures 1, Heures 2, Total, Cible, Écart
        assert feuille[f"{colonne}2"].data_type == "n"
    assert feuille["V2"].is_date and feuille["V2"].number_format == "dd/mm/yyyy hh:mm"
    assert feuille.column_dimensions["D"].width >= len("Établissement 1")


def test_a_jumelage_whose_bmp_was_withdrawn_is_a_revoir_even_validated(validee):
    w = validee
    w.j1.a_revoir = True
    w.j1.save()
    lignes = lire_csv(fichier(w.agent94, w.campagne, "jumelages", "csv"))
    assert lignes[1][ENTETES_JUMELAGES.index("État")] == "À revoir"
    assert lignes[1][ENTETES_JUMELAGES.index("Validé par")] == "Agent QUATRE-VINGT-QUATORZE"


def test_a_total_below_the_target_gives_a_negative_gap(s):
    w = s
    eps_c = BMPFactory(campagne=w.campagne, etablissement=w.C, discipline=w.eps, heures=Decimal("7.25"))
    eps_d = BMPFactory(campagne=w.campagne, etablissement=w.D, discipline=w.eps, heures=Decimal("8"))
    jumelage_direct(eps_c, eps_d)
    ligne = lire_csv(fichier(w.agent94, w.campagne, "jumelages", "csv"))[-1]
    assert ligne[ENTETES_JUMELAGES.index("Total (h)") :][:3] == ["15,25", "20", "-4,75"]
    feuille = lire_xlsx(fichier(w.agent94, w.campagne, "jumelages", "xlsx"))
    assert feuille.cell(row=feuille.max_row, column=ENTETES_JUMELAGES.index("Écart à la cible (h)") + 1).value == -4.75


# --- The BMPs left unpaired ------------------------------------------------------------------------


def test_csv_of_the_unpaired_bmps_with_their_pending_requests(s):
    w = s
    lignes = lire_csv(fichier(w.superuser, w.campagne, "bmp-non-jumeles", "csv"))
    assert lignes == [
        ENTETES_BMP,
        ["L1300", "MATHEMATIQUES", w.E.uai, "Collège E", "Bobigny", "93", w.bmp_e.identifiant, "5", "Non"],
        ["L1900", "EPS", w.A.uai, "Collège A", "Créteil", "94", w.eps_a.identifiant, "10,5", "Envoyée"],
        ["L1900", "EPS", w.B.uai, "Collège B", "Créteil", "94", w.eps_b.identifiant, "9,5", "Reçue"],
    ]


def test_xlsx_of_the_unpaired_bmps(s):
    w = s
    feuille = lire_xlsx(fichier(w.agent94, w.campagne, "bmp-non-jumeles", "xlsx"))
    assert feuille.title == "BMP non jumelés 2024" and feuille.freeze_panes == "A2"
    assert valeurs(feuille) == [
        ENTETES_BMP,
        ["L1900", "EPS", w.A.uai, "Collège A", "Créteil", "94", w.eps_a.identifiant, 10.5, "Envoyée"],
        ["L1900", "EPS", w.B.uai, "Collège B", "Créteil", "94", w.eps_b.identifiant, 9.5, "Reçue"],
    ]
    assert feuille["H2"].data_type == "n"


def test_a_bmp_with_both_a_sent_and_a_received_request(s):
    w = s
    eps_c = BMPFactory(campagne=w.campagne, etablissement=w.C, discipline=w.eps, heures=Decimal("8"))
    services.send_request(w.head_c, eps_c, w.eps_a)
    derniere = {ligne[6]: ligne[-1] for ligne in lire_csv(fichier(w.agent94, w.campagne, "bmp-non-jumeles", "csv"))}
    assert derniere[w.eps_a.identifiant] == "Envoyée et reçue"
    assert derniere[eps_c.identifiant] == "Envoyée"


def test_once_the_campaign_closed_no_request_is_pending_even_before_the_sweep(s, at):
    w = s
    at(VALIDATION)
    lignes = lire_csv(fichier(w.agent94, w.campagne, "bmp-non-jumeles", "csv"))
    assert [ligne[-1] for ligne in lignes[1:]] == ["Non", "Non"]


# --- Perimeter ---------------------------------------------------------------------------------------


def test_each_agent_exports_the_jumelages_of_his_perimeter(s):
    w = s
    assert numeros(w.agent94, w.campagne) == [w.j1.pk, w.j2.pk]
    assert numeros(w.rectorat, w.campagne) == [w.j2.pk]  # C + L + D: a lycée's business too
    assert numeros(w.agent93, w.campagne) == []
    assert numeros(w.superuser, w.campagne) == [w.j1.pk, w.j2.pk]
    assert numeros(w.superuser, w.campagne, supprimes=True) == [w.j1.pk, w.j2.pk, w.j3.pk]
    assert numeros(w.rectorat, w.campagne, supprimes=True) == [w.j2.pk]


def test_each_agent_exports_the_unpaired_bmps_of_his_perimeter(s):
    w = s

    def identifiants(user):
        return [ligne[6] for ligne in exports.tableau_bmp_non_jumeles(user, w.campagne).lignes]

    assert identifiants(w.agent94) == [w.eps_a.identifiant, w.eps_b.identifiant]
    assert identifiants(w.agent93) == [w.bmp_e.identifiant]
    assert identifiants(w.rectorat) == []


def test_another_campaign_is_not_mixed_in(s):
    w = s
    autre = CampagneFactory(annee=2023)
    ancien = BMPFactory(campagne=autre, etablissement=w.A, discipline=w.maths)
    assert numeros(w.superuser, autre) == []
    assert [ligne[6] for ligne in exports.tableau_bmp_non_jumeles(w.agent94, autre).lignes] == [ancien.identifiant]


# --- Formula injection ---------------------------------------------------------------------------------


def test_a_school_name_that_looks_like_a_formula_is_written_as_text(s):
    w = s
    w.A.nom = '=HYPERLINK("http://pirate.example","Clic")'
    w.A.save()
    neutre = "'" + w.A.nom
    for quoi in ("jumelages", "bmp-non-jumeles"):
        lignes = lire_csv(fichier(w.agent94, w.campagne, quoi, "csv"))
        assert neutre in lignes[1]
        feuille = lire_xlsx(fichier(w.agent94, w.campagne, quoi, "xlsx"))
        cellules = [c for c in feuille[2] if c.value == neutre]
        assert len(cellules) == 1 and cellules[0].data_type == "s"
        assert not any(isinstance(c.value, str) and c.value.startswith("=") for row in feuille.iter_rows() for c in row)


# --- A constant number of queries ----------------------------------------------------------------------


def plus_de_jumelages(w, nombre: int):
    """`nombre` more jumelages of two collèges of the 94, with unpaired BMPs beside them."""
    for _ in range(nombre):
        x, y, z = (EtablissementFactory(commune=w.A.commune) for _ in range(3))
        jumelage_direct(*(BMPFactory(campagne=w.campagne, etablissement=e, discipline=w.maths) for e in (x, y)))
        BMPFactory(campagne=w.campagne, etablissement=z, discipline=w.maths)


def agent_charge(user):
    """The user as a request loads him, with his profile and service (the perimeter reads them)."""
    return get_user_model().objects.select_related("profil__service").get(pk=user.pk)


def test_the_service_reads_a_constant_number_of_queries(s, django_assert_num_queries):
    w = s
    agent = agent_charge(w.agent94)
    with django_assert_num_queries(2):
        assert len(exports.tableau_jumelages(agent, w.campagne, supprimes=True).lignes) == 3
    with django_assert_num_queries(1):
        assert len(exports.tableau_bmp_non_jumeles(agent, w.campagne).lignes) == 2
    plus_de_jumelages(w, 5)
    with django_assert_num_queries(2):
        assert len(exports.tableau_jumelages(agent, w.campagne, supprimes=True).lignes) == 8
    with django_assert_num_queries(1):
        assert len(exports.tableau_bmp_non_jumeles(agent, w.campagne).lignes) == 7


@pytest.mark.parametrize("url", ["/dos/exports/jumelages.xlsx?supprimes=1", "/dos/exports/bmp-non-jumeles.csv"])
def test_the_download_runs_as_many_queries_for_2_or_12_jumelages(client, s, url):
    w = s
    client.force_login(w.agent94)

    def compter() -> int:
        with CaptureQueriesContext(connection) as requetes:
            assert client.get(url).status_code == 200
        return len(requetes)

    avant = compter()
    plus_de_jumelages(w, 10)
    assert compter() == avant


# --- The pages -------------------------------------------------------------------------------------------


def test_an_agent_downloads_the_csv_of_his_perimeter(client, validee):
    w = validee
    client.force_login(w.agent94)
    response = client.get(reverse("dos:export", kwargs={"quoi": "jumelages", "format": "csv"}))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="jumelages-2024-dsden-94.csv"'
    assert "no-store" in response["Cache-Control"]
    lignes = lire_csv(response.content)
    assert lignes[1:] == [[*ligne_j1(w), str(w.j1.pk)], [*ligne_j2(w), str(w.j2.pk)]]


def test_the_rectorat_downloads_the_xlsx_with_the_deleted_ones(client, s):
    w = s
    client.force_login(w.rectorat)
    response = client.get(f"/dos/exports/jumelages.xlsx?campagne={w.campagne.pk}&supprimes=1")
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_TYPE
    assert response["Content-Disposition"] == 'attachment; filename="jumelages-2024-rectorat-avec-supprimes.xlsx"'
    assert [ligne[-1] for ligne in valeurs(lire_xlsx(response.content))[1:]] == [w.j2.pk]


def test_a_superuser_downloads_the_unpaired_bmps_of_the_academie(client, s):
    w = s
    client.force_login(w.superuser)
    response = client.get("/dos/exports/bmp-non-jumeles.csv")
    assert response["Content-Disposition"] == 'attachment; filename="bmp-non-jumeles-2024-academie.csv"'
    assert len(lire_csv(response.content)) == 1 + 3


def test_the_latest_campaign_by_default_another_on_demand(client, s):
    w = s
    ancienne = CampagneFactory(annee=2023)
    client.force_login(w.agent94)
    assert "jumelages-2024-" in client.get("/dos/exports/jumelages.csv")["Content-Disposition"]
    response = client.get(f"/dos/exports/jumelages.csv?campagne={ancienne.pk}")
    assert response["Content-Disposition"] == 'attachment; filename="jumelages-2023-dsden-94.csv"'
    assert lire_csv(response.content) == [[*ENTETES_JUMELAGES, "N° de jumelage"]]


@pytest.mark.parametrize("instant", [PREPARATION, OUVERTE, VALIDATION, CONSULTATION, ARCHIVEE])
def test_exports_are_allowed_in_every_phase(client, s, at, instant):
    at(instant)
    client.force_login(s.agent94)
    assert client.get("/dos/exports/jumelages.xlsx").status_code == 200


def test_a_head_of_school_is_refused(client, s):
    client.force_login(s.head_a)
    for url in ("/dos/exports/jumelages.csv", "/dos/exports/bmp-non-jumeles.xlsx", "/dos/exports/"):
        response = client.get(url)
        assert response.status_code == 403
        assert "Accès réservé" in response.content.decode()


def test_an_anonymous_user_is_sent_to_the_login_page(client, s):
    response = client.get("/dos/exports/jumelages.csv?campagne=1")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:connexion"))
    assert "next=/dos/exports/jumelages.csv" in response["Location"]


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/dos/exports/jumelages.csv?campagne=999999", 404, "La campagne n° 999999 n&#x27;existe pas."),
        ("/dos/exports/jumelages.csv?campagne=deux-mille", 400, "Campagne inconnue : « deux-mille »."),
        ("/dos/exports/jumelages.pdf", 404, "Format inconnu : « pdf ». Les exports existent en CSV et en XLSX."),
        ("/dos/exports/demandes.csv", 404, "Export inconnu : « demandes »."),
        ("/dos/exports/?campagne=999999", 404, "La campagne n° 999999 n&#x27;existe pas."),
    ],
)
def test_bad_input_gets_a_french_error(client, s, url, status, message):
    client.force_login(s.agent94)
    response = client.get(url)
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert message in response.content.decode()


def test_no_campaign_yet_gets_a_french_error(client, db):
    ensure_services()
    client.force_login(agent_of("0949999H"))
    response = client.get("/dos/exports/jumelages.csv")
    assert response.status_code == 404
    assert "Aucune campagne n&#x27;existe encore" in response.content.decode()


def test_the_exports_page_links_each_file_of_the_campaign(client, s):
    w = s
    client.force_login(w.agent94)
    response = client.get("/dos/exports/")
    assert response.status_code == 200
    page = response.content.decode()
    for url in (
        f"/dos/exports/jumelages.csv?campagne={w.campagne.pk}",
        f"/dos/exports/jumelages.xlsx?campagne={w.campagne.pk}&amp;supprimes=1",
        f"/dos/exports/bmp-non-jumeles.xlsx?campagne={w.campagne.pk}",
    ):
        assert url in page


def test_the_admin_gets_the_same_response(s):
    w = s
    response = reponse_export(w.agent93, w.campagne, "bmp-non-jumeles", "xlsx")
    assert response["Content-Disposition"] == 'attachment; filename="bmp-non-jumeles-2024-dsden-93.xlsx"'
    assert valeurs(lire_xlsx(response.content))[1][6] == w.bmp_e.identifiant
    with pytest.raises(exports.ExportError, match="Format inconnu"):
        reponse_export(w.agent93, w.campagne, "jumelages", "ods")
