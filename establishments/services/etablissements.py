"""Importing établissements (FORMATS.md "Reference data", schools) from any of the Ministry's
three published files, recognised by their header."""

from dataclasses import dataclass, field

from django.db import transaction

from ..csvfiles import CsvFile, ImportFileError, LineError, read_csv
from ..enums import Position, TypeEtablissement
from ..models import Commune, Departement, Etablissement
from ..uai import normalize_uai, uai_error
from .shared import (
    DEPARTEMENT_CODE_PATTERN,
    SKIP_FERME_INCONNU,
    SKIP_HORS_ACADEMIE,
    SKIP_MINISTERE,
    SKIP_PREMIER_DEGRE,
    SKIP_PRIVE,
    SKIP_TYPE,
    Change,
    ImportResult,
    apply_values,
    canonical,
    finish,
    normalize_departement_code,
    raise_if_errors,
    read_coordinates,
)


@dataclass(frozen=True)
class EtablissementFormat:
    """One of the Ministry's published school files, recognised by its header."""

    name: str
    signature: tuple[str, ...]
    # role → (normalized column names accepted, name shown in errors)
    required: dict[str, tuple[tuple[str, ...], str]]
    optional: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)

    def matches(self, csv_file: CsvFile) -> bool:
        return all(column in csv_file.columns for column in self.signature)

    def resolve(self, csv_file: CsvFile, errors: list[LineError]) -> dict[str, tuple[str, str]]:
        """role → (the column present in the file, the name it is shown by); missing required ones are errors."""
        found = ", ".join(f"« {h} »" for h in csv_file.header)
        columns: dict[str, tuple[str, str]] = {}
        for role, (candidates, shown) in {**self.optional, **self.required}.items():
            present = next((c for c in candidates if c in csv_file.columns), None)
            if present is not None:
                columns[role] = (present, csv_file.header[csv_file.columns[present]])
            elif role in self.required:
                errors.append(LineError(1, f"Colonne obligatoire absente : « {shown} » (colonnes trouvées : {found})."))
        return columns


FORMAT_ANNUAIRE = EtablissementFormat(
    name="Annuaire de l'éducation (ministère de l'Éducation nationale)",
    signature=("identifiantdeletablissement",),
    required={
        "uai": (("identifiantdeletablissement",), "Identifiant_de_l_etablissement"),
        "nom": (("nometablissement",), "Nom_etablissement"),
        "type": (("typeetablissement",), "Type_etablissement"),
        "statut": (("statutpublicprive",), "Statut_public_prive"),
        "commune": (("codecommune",), "Code_commune"),
        "departement": (("codedepartement",), "Code_departement"),
        "latitude": (("latitude",), "latitude"),
        "longitude": (("longitude",), "longitude"),
        "etat": (("etat",), "etat"),
        "nature": (("libellenature",), "libelle_nature"),
    },
    optional={
        "nature_code": (("codenature",), "code_nature"),
        "ministere": (("ministeretutelle",), "ministere_tutelle"),
    },
)
FORMAT_GEOLOC = EtablissementFormat(
    name="Adresse et géolocalisation des établissements (ministère de l'Éducation nationale)",
    signature=("numerouai",),
    required={
        "uai": (("numerouai",), "numero_uai"),
        "nom": (("appellationofficielle",), "appellation_officielle"),
        "statut": (("secteurpublicprivelibe",), "secteur_public_prive_libe"),
        "latitude": (("latitude",), "latitude"),
        "longitude": (("longitude",), "longitude"),
        "nature": (("natureuailibe",), "nature_uai_libe"),
        "etat": (("etatetablissementlibe",), "etat_etablissement_libe"),
        "departement": (("codedepartement",), "code_departement"),
        "commune": (("codecommune",), "code_commune"),
    },
    optional={
        "nature_code": (("natureuai",), "nature_uai"),
        "ministere": (("libelleministere",), "libelle_ministere"),
    },
)
FORMAT_IPS = EtablissementFormat(
    name="IPS des lycées (ministère de l'Éducation nationale), sans coordonnées",
    signature=("uai", "typedelycee"),
    required={
        "uai": (("uai",), "uai"),
        # "etablissment" is the Ministry's own typo; accept the fixed spelling of a later release too.
        "nom": (("nomdeletablissment", "nomdeletablissement"), "nom_de_l_etablissment"),
        "commune": (("codeinseedelacommune",), "code_insee_de_la_commune"),
        "statut": (("secteur",), "secteur"),
        "type_lycee": (("typedelycee",), "type_de_lycee"),
    },
    optional={"departement": (("codedudepartement",), "code_du_departement")},
)
ETABLISSEMENT_FORMATS = (FORMAT_ANNUAIRE, FORMAT_GEOLOC, FORMAT_IPS)

# `libelle_nature` / `nature_uai_libe` (BCN nature of the UAI) → kind; spelled as canonical() gives it.
NATURES = {
    "COLLEGE": TypeEtablissement.COLLEGE,
    "COLLEGE SPECIALISE": TypeEtablissement.COLLEGE,
    "COLLEGE CLIMATIQUE": TypeEtablissement.COLLEGE,
    "COLLEGE EXPERIMENTAL": TypeEtablissement.COLLEGE,
    "LYCEE ENSEIGNT GENERAL ET TECHNOLOGIQUE": TypeEtablissement.LGT,
    "LYCEE D ENSEIGNEMENT GENERAL ET TECHNOLOGIQUE": TypeEtablissement.LGT,
    "LYCEE D ENSEIGNEMENT GENERAL": TypeEtablissement.LGT,
    "LYCEE D ENSEIGNEMENT TECHNOLOGIQUE": TypeEtablissement.LGT,
    "LYCEE CLIMATIQUE": TypeEtablissement.LGT,
    "LYCEE EXPERIMENTAL": TypeEtablissement.LGT,
    "LYCEE POLYVALENT": TypeEtablissement.LPO,
    "LYCEE PROFESSIONNEL": TypeEtablissement.LP,
    "ETABLISSEMENT REGIONAL D ENSEIGNEMENT ADAPTE": TypeEtablissement.EREA,
    "ETABLISSEMENT REGIONAL D ENSEIGNT ADAPTE": TypeEtablissement.EREA,
    "ETAB REGIONAL LYCEE ENSEIGNEMENT ADAPTE": TypeEtablissement.EREA,
}
# The Annuaire's `Type_etablissement`, used only when the row has no nature.
ANNUAIRE_TYPES = {"COLLEGE": TypeEtablissement.COLLEGE, "EREA": TypeEtablissement.EREA}
# The IPS file's `type_de_lycee`.
IPS_TYPES = {
    "LEGT": TypeEtablissement.LGT,
    "LGT": TypeEtablissement.LGT,
    "LPO": TypeEtablissement.LPO,
    "LP": TypeEtablissement.LP,
}
# `etat` / `etat_etablissement_libe`: a school still to open or to close is open today.
ETATS = {"OUVERT": True, "A OUVRIR": True, "A FERMER": True, "FERME": False}

ETABLISSEMENT_FIELDS = {
    "nom": "nom",
    "type": "type",
    "public": "secteur",
    "departement_id": "département",
    "commune_id": "commune",
    "latitude": "coordonnées",
    "longitude": "coordonnées",
    "position": "coordonnées",
    "ouvert": "réouvert",
}


def _is_first_degree(type_etablissement: str, nature: str, nature_code: str) -> bool:
    if nature_code.isdigit() and 100 <= int(nature_code) < 200:  # BCN natures 1xx are the first degree
        return True
    if type_etablissement == "ECOLE":
        return True
    return nature.startswith("ECOLE") and any(
        word in nature for word in ("MATERNELLE", "ELEMENTAIRE", "PRIMAIRE", "PREMIER DEGRE")
    )


def _unrecognised_header(csv_file: CsvFile) -> ImportFileError:
    found = ", ".join(f"« {h} »" for h in csv_file.header[:12])
    if len(csv_file.header) > 12:
        found += ", …"
    return ImportFileError(
        [
            LineError(
                1,
                "En-tête non reconnu : le fichier n'est dans aucun des trois formats publiés par le ministère "
                "que JUMO sait lire : l'Annuaire de l'éducation (Identifiant_de_l_etablissement;"
                "Nom_etablissement;Type_etablissement;Statut_public_prive;…), Adresse et géolocalisation des "
                "établissements (numero_uai;appellation_officielle;…;latitude;longitude;…;nature_uai_libe;…) "
                "ou IPS des lycées (…;uai;nom_de_l_etablissment;code_insee_de_la_commune;…;secteur;"
                f"type_de_lycee;…). Colonnes trouvées : {found}.",
            )
        ],
        encoding=csv_file.encoding,
        delimiter=csv_file.delimiter,
    )


@dataclass
class _EtablissementRow:
    line: int
    uai: str
    nom: str
    type: str
    ouvert: bool | None
    departement: str | None
    commune: str
    coordinates: tuple[float, float] | None


def import_etablissements(data: bytes, *, dry_run: bool = False) -> ImportResult:
    """Import schools (FORMATS.md "Reference data", schools) from any of the Ministry's three files,
    recognised by their header. Only public second-degree schools are kept (collège, LGT, LPO, LP,
    EREA); first-degree, private, other kinds and rows of départements outside the référentiel are
    skipped and counted by reason. Key = UAI (key letter checked); the commune must exist.
    Coordinates from the file are exact; without them the school is placed at its commune's centre
    (approximate), and exact coordinates already stored are kept. A school absent from the file is
    left alone; one the file says is closed (FERME) is marked closed, never deleted."""
    csv_file = read_csv(data, {})
    source = next((f for f in ETABLISSEMENT_FORMATS if f.matches(csv_file)), None)
    if source is None:
        raise _unrecognised_header(csv_file)
    errors: list[LineError] = []
    columns = source.resolve(csv_file, errors)
    raise_if_errors(errors, csv_file)
    result = ImportResult("établissements", source.name, csv_file.encoding, csv_file.delimiter_label)
    result.lines = len(csv_file.rows)

    def cell(fields: list[str], role: str) -> str:
        return csv_file.value(fields, columns[role][0]) if role in columns else ""

    def shown(role: str) -> str:
        return columns[role][1]

    # The académie is the départements of the référentiel: a national file loads its part of it.
    departements = {d.code: d for d in Departement.objects.all()}
    rows: list[_EtablissementRow] = []
    first_line: dict[str, int] = {}
    for line, fields in csv_file.rows:
        nature_text = cell(fields, "nature")
        nature = canonical(nature_text)
        if _is_first_degree(canonical(cell(fields, "type")), nature, cell(fields, "nature_code")):
            result.skipped[SKIP_PREMIER_DEGRE] += 1
            continue
        statut_text = cell(fields, "statut")
        statut = canonical(statut_text)
        if statut.startswith("PRIVE"):
            result.skipped[SKIP_PRIVE] += 1
            continue
        if statut != "PUBLIC":
            errors.append(
                LineError(line, "Secteur non reconnu : « Public » ou « Privé » attendu.", shown("statut"), statut_text)
            )
            continue
        ministere = canonical(cell(fields, "ministere"))
        if ministere and "EDUCATION NATIONALE" not in ministere:
            result.skipped[SKIP_MINISTERE] += 1
            continue
        if "type_lycee" in columns:
            type_text = cell(fields, "type_lycee")
            kind = IPS_TYPES.get(canonical(type_text))
        else:
            type_text = nature_text or cell(fields, "type")
            kind = NATURES.get(nature) if nature else ANNUAIRE_TYPES.get(canonical(cell(fields, "type")))
        if kind is None:
            result.skipped[SKIP_TYPE] += 1
            result.skipped_types[type_text or "(vide)"] += 1
            continue
        row_errors: list[LineError] = []
        departement = None
        if "departement" in columns:
            departement_text = cell(fields, "departement")
            departement = normalize_departement_code(departement_text)
            if not DEPARTEMENT_CODE_PATTERN.match(departement):
                row_errors.append(
                    LineError(line, "Code de département invalide (ex. 077).", shown("departement"), departement_text)
                )
            elif departement not in departements:
                result.skipped[SKIP_HORS_ACADEMIE] += 1
                continue
        ouvert = None
        if "etat" in columns:
            etat_text = cell(fields, "etat")
            ouvert = ETATS.get(canonical(etat_text))
            if ouvert is None and etat_text:
                row_errors.append(
                    LineError(
                        line,
                        "État non reconnu : OUVERT, A OUVRIR, A FERMER ou FERME attendu.",
                        shown("etat"),
                        etat_text,
                    )
                )
        uai_text = cell(fields, "uai")
        uai = normalize_uai(uai_text)
        problem = uai_error(uai_text)
        if problem:
            row_errors.append(LineError(line, problem, shown("uai"), uai_text))
        elif uai in first_line:
            row_errors.append(LineError(line, f"UAI en double (déjà ligne {first_line[uai]}).", shown("uai"), uai_text))
        else:
            first_line[uai] = line
        nom = cell(fields, "nom")
        if not nom:
            row_errors.append(LineError(line, "Le nom de l'établissement est vide.", shown("nom"), nom))
        elif len(nom) > 255:
            row_errors.append(LineError(line, "Nom trop long (255 caractères au plus).", shown("nom"), nom))
        coordinates = None
        if "latitude" in columns:
            coordinates = read_coordinates(
                csv_file,
                fields,
                line,
                (columns["latitude"][0], columns["longitude"][0]),
                (shown("latitude"), shown("longitude")),
                row_errors,
            )
        if row_errors:
            errors.extend(row_errors)
            continue
        rows.append(
            _EtablissementRow(line, uai, nom, kind, ouvert, departement, cell(fields, "commune").upper(), coordinates)
        )

    with transaction.atomic():
        departements_by_pk = {d.pk: d for d in departements.values()}
        communes = {c.code_insee: c for c in Commune.objects.filter(code_insee__in={r.commune for r in rows})}
        existing = {e.uai: e for e in Etablissement.objects.filter(uai__in={r.uai for r in rows})}
        kept: list[_EtablissementRow] = []
        for row in rows:
            if row.ouvert is False and row.uai not in existing:
                result.skipped[SKIP_FERME_INCONNU] += 1
                continue
            commune = communes.get(row.commune)
            if commune is None:
                errors.append(
                    LineError(
                        row.line,
                        "Commune inconnue : importez d'abord les communes (python manage.py import_communes).",
                        shown("commune"),
                        row.commune,
                    )
                )
                continue
            if row.departement is not None and departements[row.departement].pk != commune.departement_id:
                errors.append(
                    LineError(
                        row.line,
                        f"La commune {commune.nom} ({commune.code_insee}) est dans le département "
                        f"{departements_by_pk[commune.departement_id].code}, pas dans celui-ci.",
                        shown("departement"),
                        row.departement,
                    )
                )
                continue
            kept.append(row)
        if errors:
            errors.sort(key=lambda e: e.line or 0)
            raise_if_errors(errors, csv_file)

        to_create, to_update = [], []
        for row in kept:
            commune = communes[row.commune]
            school = existing.get(row.uai)
            values = {
                "nom": row.nom,
                "type": row.type,
                "public": True,
                "departement_id": commune.departement_id,
                "commune_id": commune.pk,
            }
            if row.ouvert is not None:
                values["ouvert"] = row.ouvert
            if row.coordinates is not None:
                values.update(latitude=row.coordinates[0], longitude=row.coordinates[1], position=Position.EXACTE)
            elif school is None or school.position != Position.EXACTE:
                # No coordinates in the file: the commune's centre, never over exact coordinates.
                known = commune.latitude is not None and commune.longitude is not None
                values.update(
                    latitude=commune.latitude if known else None,
                    longitude=commune.longitude if known else None,
                    position=Position.APPROXIMATIVE if known else Position.INCONNUE,
                )
            if values.get("position", school.position if school else None) == Position.APPROXIMATIVE:
                result.approximate += 1
            if school is None:
                values.setdefault("ouvert", True)
                to_create.append(Etablissement(uai=row.uai, **values))
                result.added_items.append(Change(row.uai, row.nom))
                continue
            was_open = school.ouvert
            changed = apply_values(school, values, ETABLISSEMENT_FIELDS)
            if not changed:
                result.unchanged += 1
                continue
            to_update.append(school)
            if was_open and not school.ouvert:
                result.closed_items.append(Change(row.uai, school.nom, tuple(f for f in changed if f != "réouvert")))
            else:
                result.updated_items.append(Change(row.uai, school.nom, changed))
        Etablissement.objects.bulk_create(to_create)
        if to_update:
            Etablissement.objects.bulk_update(to_update, list(ETABLISSEMENT_FIELDS))
        return finish(result, dry_run)
