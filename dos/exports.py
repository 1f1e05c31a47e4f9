"""The DOS exports for the personnel division (issue 7): the jumelages of a campaign within an
agent's perimeter, one line per jumelage, and the BMPs left unpaired; as CSV or XLSX.

No HTTP here: `tableau_*` read the data (a fixed number of queries, whatever the campaign's
size) as typed cells (text, Decimal, int, aware datetime, None); `en_csv` and `en_xlsx` write
them, every text cell through common.exports.safe_cell (formula injection). dos.views_exports
serves them.
"""

import csv
import datetime
import io
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.text import slugify
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bmp.models import BMP, Campagne
from common.exports import safe_cell
from jumelages import perimetres
from jumelages.enums import EtatJumelage, Motif, OrigineJumelage
from jumelages.models import (
    Jumelage,
    JumelageBMP,
    dans_un_jumelage_actif,
    demandes_en_attente,
    format_nombre,
    nom_auteur,
)

PARIS = ZoneInfo("Europe/Paris")

JUMELAGES, BMP_NON_JUMELES = "jumelages", "bmp-non-jumeles"
CSV, XLSX = "csv", "xlsx"
EXPORTS = {JUMELAGES: "Jumelages", BMP_NON_JUMELES: "BMP non jumelés"}
FORMATS = {
    CSV: "text/csv; charset=utf-8",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
POSITIONS = (1, 2, 3)  # a jumelage holds two or three BMPs


class ExportError(Exception):
    """A French sentence for the user: unknown export, format or campaign."""


@dataclass
class Tableau:
    titre: str  # the sheet's name in the XLSX file
    entetes: list[str]
    lignes: list[list]


# --- Reading -------------------------------------------------------------------------------------


def tableau_jumelages(user, campagne: Campagne, *, supprimes: bool = False) -> Tableau:
    """The campaign's jumelages within the user's perimeter, one line each, by discipline then the
    first school's UAI: active ones only, or the deleted ones too (`supprimes`). Two queries."""
    entetes = ["Discipline", "Libellé discipline"]
    for position in POSITIONS:
        entetes += [f"UAI {position}", f"Établissement {position}", f"Commune {position}", f"Heures {position}"]
    entetes += [
        "Total (h)",
        "Cible (h)",
        "Écart à la cible (h)",
        "Établissement de rattachement (UAI)",
        "État",
        "Origine",
        "Validé par",
        "Validé le",
    ]
    if supprimes:
        entetes += ["Supprimé le", "Motif de suppression"]
    entetes.append("N° de jumelage")

    queryset = Jumelage.objects.filter(campagne=campagne)
    if not supprimes:
        queryset = queryset.filter(actif=True)
    queryset = perimetres.jumelages(user, queryset).avec_etat()
    # Tuples, not model instances: a campaign has thousands of jumelages, each with its members.
    champs = [
        "pk",
        "discipline__code",
        "discipline__libelle",
        "discipline__heures_temps_plein",
        "total_heures",
        "rattachement__uai",
        "actif",
        "etat",
        "valide",
        "origine",
        "valide_par_id",
        "valide_le",
        "supprime_le",
        "motif_suppression",
    ]
    jumelages = [dict(zip(champs, valeurs, strict=True)) for valeurs in queryset.values_list(*champs)]
    membres = defaultdict(list)
    for jumelage_id, position, actif, uai, nom, commune, heures in (
        JumelageBMP.objects.filter(jumelage__in=queryset)
        .order_by("position")
        .values_list(
            "jumelage_id",
            "position",
            "actif",
            "etablissement__uai",
            "etablissement__nom",
            "etablissement__commune__nom",
            "bmp__heures",
        )
    ):
        membres[jumelage_id].append((position, actif, uai, nom, commune, heures))
    valideurs = get_user_model().objects.in_bulk({j["valide_par_id"] for j in jumelages} - {None})
    origines, motifs = dict(OrigineJumelage.choices), dict(Motif.choices)

    lignes = []
    for j in jumelages:
        # A deleted jumelage keeps its members, inactive; an active one shows its active members.
        presents = [m for m in membres[j["pk"]] if m[1] or not j["actif"]]
        ligne = [j["discipline__code"], j["discipline__libelle"]]
        par_position = {m[0]: m for m in presents}
        for position in POSITIONS:
            m = par_position.get(position)
            ligne += [None, None, None, None] if m is None else list(m[2:])
        cible = j["discipline__heures_temps_plein"]
        ligne += [
            j["total_heures"],
            cible,
            j["total_heures"] - cible,
            j["rattachement__uai"],
            EtatJumelage(j["etat"]).label,
            origines.get(j["origine"], j["origine"]),
            nom_auteur(valideurs.get(j["valide_par_id"])) if j["valide"] else None,
            j["valide_le"],
        ]
        if supprimes:
            ligne += [j["supprime_le"], motifs.get(j["motif_suppression"]) or None]
        ligne.append(j["pk"])
        premier = min(presents)[2] if presents else ""
        lignes.append(((j["discipline__code"], premier, j["pk"]), ligne))
    lignes.sort(key=lambda item: item[0])
    return Tableau(f"Jumelages {campagne.annee}", entetes, [ligne for _cle, ligne in lignes])


def tableau_bmp_non_jumeles(user, campagne: Campagne) -> Tableau:
    """The campaign's active BMPs within the user's perimeter that belong to no active jumelage,
    by discipline, UAI and identifiant, with the requests pending on each (sent, received).
    One query."""
    entetes = [
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
    # A request past its deadline, or once the campaign closed, has lapsed even before the sweeps run.
    en_attente = demandes_en_attente(campagne, timezone.now())
    envoyee = Exists(en_attente.filter(bmp=OuterRef("pk")))
    recue = Exists(en_attente.filter(cible=OuterRef("pk")))
    bmps = (
        perimetres.bmps(user, BMP.objects.actifs().filter(campagne=campagne))
        .filter(~dans_un_jumelage_actif())
        .annotate(envoyee=envoyee, recue=recue)
        .order_by("discipline__code", "etablissement__uai", "identifiant")
        # Tuples, not model instances: a campaign has thousands of unpaired BMPs (4 times faster).
        .values_list(
            "discipline__code",
            "discipline__libelle",
            "etablissement__uai",
            "etablissement__nom",
            "etablissement__commune__nom",
            "etablissement__departement__code",
            "identifiant",
            "heures",
            "envoyee",
            "recue",
        )
    )
    lignes = [[*valeurs, _demande_en_attente(envoyee, recue)] for *valeurs, envoyee, recue in bmps]
    return Tableau(f"BMP non jumelés {campagne.annee}", entetes, lignes)


def _demande_en_attente(envoyee: bool, recue: bool) -> str:
    if envoyee and recue:
        return "Envoyée et reçue"
    return "Envoyée" if envoyee else "Reçue" if recue else "Non"


# --- Writing -------------------------------------------------------------------------------------


def _paris(instant: datetime.datetime) -> datetime.datetime:
    return timezone.localtime(instant, PARIS)


def _texte_csv(valeur):
    if isinstance(valeur, datetime.datetime):
        return _paris(valeur).strftime("%d/%m/%Y %H:%M")
    if isinstance(valeur, int | Decimal) and not isinstance(valeur, bool):
        return format_nombre(valeur)
    return safe_cell(valeur)


def en_csv(tableau: Tableau) -> bytes:
    """UTF-8 with a BOM and ';' between cells, as French Excel opens it at a double click."""
    sortie = io.StringIO()
    writer = csv.writer(sortie, delimiter=";", lineterminator="\r\n")
    writer.writerow([safe_cell(entete) for entete in tableau.entetes])
    for ligne in tableau.lignes:
        writer.writerow([_texte_csv(valeur) for valeur in ligne])
    return sortie.getvalue().encode("utf-8-sig")


FORMAT_DATE_XLSX = "dd/mm/yyyy hh:mm"
LARGEUR_MIN, LARGEUR_MAX = 8, 50


def _cellule_xlsx(valeur):
    """Numbers stay numbers, instants are Paris wall-clock times (Excel knows no time zone)."""
    if valeur is None:
        return None
    if isinstance(valeur, datetime.datetime):
        return _paris(valeur).replace(tzinfo=None)
    valeur = safe_cell(valeur)
    if isinstance(valeur, str):
        valeur = ILLEGAL_CHARACTERS_RE.sub("", valeur)  # control characters openpyxl refuses
    return valeur


def en_xlsx(tableau: Tableau) -> bytes:
    """One sheet: the header row bold and frozen, a filter on it, columns as wide as their content.

    Written in openpyxl's write-only mode (rows streamed to the file, not kept as cell objects):
    three to four times faster and a fraction of the memory for a campaign's thousands of lines.
    """
    lignes = [[_cellule_xlsx(valeur) for valeur in ligne] for ligne in tableau.lignes]
    largeurs = [len(entete) for entete in tableau.entetes]
    for cellules in lignes:
        for i, valeur in enumerate(cellules):
            if isinstance(valeur, datetime.datetime):
                largeurs[i] = max(largeurs[i], len("00/00/0000 00:00"))
            elif valeur is not None:
                largeurs[i] = max(largeurs[i], len(_texte_csv(valeur)))
    classeur = Workbook(write_only=True)
    feuille = classeur.create_sheet(tableau.titre[:31])
    for i, largeur in enumerate(largeurs, start=1):
        feuille.column_dimensions[get_column_letter(i)].width = min(max(largeur, LARGEUR_MIN), LARGEUR_MAX) + 2
    feuille.freeze_panes = "A2"
    derniere = get_column_letter(len(tableau.entetes))
    feuille.auto_filter.ref = f"A1:{derniere}{len(lignes) + 1}"
    gras = Font(bold=True)
    entetes = []
    for entete in tableau.entetes:
        cellule = WriteOnlyCell(feuille, value=_cellule_xlsx(entete))
        cellule.font = gras
        entetes.append(cellule)
    feuille.append(entetes)
    for cellules in lignes:
        for i, valeur in enumerate(cellules):
            if isinstance(valeur, datetime.datetime):
                cellule = WriteOnlyCell(feuille, value=valeur)
                cellule.number_format = FORMAT_DATE_XLSX
                cellules[i] = cellule
        feuille.append(cellules)
    sortie = io.BytesIO()
    classeur.save(sortie)
    return sortie.getvalue()


# --- One call ------------------------------------------------------------------------------------


def perimetre_du_fichier(user) -> str:
    """The perimeter in a file's name: « dsden-94 », « rectorat », « academie » for a superuser."""
    if perimetres.sees_everything(user):
        return "academie"
    service = perimetres.service_of(user)
    return slugify(service.nom) if service is not None else "aucun"


def nom_de_fichier(user, campagne: Campagne, quoi: str, format: str, *, supprimes: bool = False) -> str:
    """jumelages-2024-dsden-94.csv, jumelages-2024-rectorat-avec-supprimes.xlsx, bmp-non-jumeles-2024-academie.csv."""
    suite = "-avec-supprimes" if supprimes and quoi == JUMELAGES else ""
    return f"{quoi}-{campagne.annee}-{perimetre_du_fichier(user)}{suite}.{format}"


def exporter(user, campagne: Campagne, quoi: str, format: str, *, supprimes: bool = False) -> tuple[bytes, str, str]:
    """The file's content, content type and name; ExportError (in French) for an unknown export or format."""
    if quoi not in EXPORTS:
        raise ExportError(f"Export inconnu : « {quoi} ». Les exports sont : {', '.join(EXPORTS)}.")
    if format not in FORMATS:
        raise ExportError(f"Format inconnu : « {format} ». Les exports existent en CSV et en XLSX.")
    if quoi == JUMELAGES:
        tableau = tableau_jumelages(user, campagne, supprimes=supprimes)
    else:
        tableau = tableau_bmp_non_jumeles(user, campagne)
    contenu = en_csv(tableau) if format == CSV else en_xlsx(tableau)
    return contenu, FORMATS[format], nom_de_fichier(user, campagne, quoi, format, supprimes=supprimes)
