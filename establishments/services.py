"""Importing the référentiel from public open data (FORMATS.md "Reference data").

Every import follows the shared rules of FORMATS.md: the whole file is validated first
and every error is reported in French with its line, column and value (nothing is
written if there is one); then everything is written in one transaction, with bulk
queries (their number does not grow with the file). An import never deletes anything:
files are partial by nature, and BMPs and jumelages point at schools, communes and
disciplines. Importing the same file twice changes nothing the second time, and the
result says so.
"""

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from .csvfiles import DELIMITER_LABELS, CsvFile, ImportFileError, LineError, parse_decimal, parse_float, read_csv
from .enums import Position, TypeEtablissement
from .models import Commune, Departement, Discipline, Etablissement, ZoneRemplacement
from .uai import normalize_uai, uai_error

# Reasons for which a school row is skipped (counted, never an error).
SKIP_PREMIER_DEGRE = "premier degré"
SKIP_PRIVE = "privé"
SKIP_TYPE = "type non retenu"
SKIP_MINISTERE = "autre ministère que l'Éducation nationale"
SKIP_FERME_INCONNU = "fermé et absent de JUMO"
SKIP_HORS_ACADEMIE = "hors académie (département absent du référentiel)"

DEFAULT_HEURES_TEMPS_PLEIN = 18

# The real files shipped in settings.JUMO_REFERENCE_DATA_DIR (fixtures/README.md says where each comes from).
REFERENCE_FILES = {
    "communes": "communes_77_93_94.csv",
    "disciplines": "disciplines_de_poste.csv",
    "colleges": "colleges_publics_77_93_94_geoloc.csv",
    "lycees": "lycees_publics_77_93_94_ips_2021.csv",
    "zones": "zones_remplacement.csv",
}
NO_ZONES_MESSAGE = "aucune zone de remplacement publiée : zones non renseignées"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Change:
    """One object added, updated or closed by an import, with the fields that changed."""

    key: str
    label: str
    fields: tuple[str, ...] = ()

    def __str__(self):
        text = f"{self.key} – {self.label}" if self.label else self.key
        return f"{text} ({', '.join(self.fields)})" if self.fields else text


@dataclass
class ImportResult:
    """What an import did: counts, the objects touched, the rows skipped by reason, how the file was read."""

    objet: str
    format: str
    encoding: str
    delimiter: str
    lines: int = 0
    added_items: list[Change] = field(default_factory=list)
    updated_items: list[Change] = field(default_factory=list)
    closed_items: list[Change] = field(default_factory=list)
    unchanged: int = 0
    skipped: Counter = field(default_factory=Counter)
    skipped_types: Counter = field(default_factory=Counter)
    approximate: int = 0
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    file_name: str = ""

    @property
    def added(self) -> int:
        return len(self.added_items)

    @property
    def updated(self) -> int:
        return len(self.updated_items)

    @property
    def closed(self) -> int:
        return len(self.closed_items)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def has_changes(self) -> bool:
        return bool(self.added_items or self.updated_items or self.closed_items or self.notes)

    def counts_line(self) -> str:
        text = (
            f"ajouts : {self.added} ; mises à jour : {self.updated} ; sans changement : {self.unchanged} ; "
            f"fermetures : {self.closed}"
        )
        if self.skipped:
            text += f" ; lignes ignorées : {self.skipped_total}"
        return text

    def summary_lines(self, *, details_limit: int | None = 50) -> list[str]:
        """The report printed by the commands, in French."""
        lines = [
            f"Import des {self.objet}. Fichier reconnu : {self.format}.",
            f"Encodage : {self.encoding} ; séparateur : {self.delimiter} ; {self.lines} ligne(s) de données.",
            self.counts_line()[:1].upper() + self.counts_line()[1:] + ".",
        ]
        for reason, count in sorted(self.skipped.items()):
            line = f"Ignorées ({reason}) : {count}"
            if reason == SKIP_TYPE and self.skipped_types:
                line += " — " + ", ".join(f"{nature} : {n}" for nature, n in sorted(self.skipped_types.items()))
            lines.append(line + ".")
        if self.approximate:
            lines.append(
                f"Placés au centre de leur commune (position approximative, faute de coordonnées) : {self.approximate}."
            )
        lines.extend(self.notes)
        for title, items in (
            ("Ajoutés", self.added_items),
            ("Mis à jour", self.updated_items),
            ("Fermés (conservés, marqués fermés)", self.closed_items),
        ):
            if not items:
                continue
            lines.append(f"{title} :")
            shown = items if details_limit is None else items[:details_limit]
            lines.extend(f"  {item}" for item in shown)
            if len(items) > len(shown):
                lines.append(f"  … et {len(items) - len(shown)} autre(s) (--verbosity 2 pour tout afficher).")
        if not self.has_changes:
            lines.append("Aucun changement : la base était déjà à jour pour ce fichier.")
        if self.dry_run:
            lines.append("Simulation (--dry-run) : rien n'a été enregistré.")
        return lines


@dataclass
class ReferenceDataResult:
    """What load_reference_data did, step by step."""

    directory: Path
    results: list[ImportResult] = field(default_factory=list)
    zones_published: bool = False
    dry_run: bool = False

    def summary_lines(self) -> list[str]:
        lines = [f"Référentiel chargé depuis {self.directory} :"]
        for result in self.results:
            lines.append(f"  {result.objet} ({result.file_name}) : {result.counts_line()}.")
        if not self.zones_published:
            lines.append(f"  {NO_ZONES_MESSAGE}.")
        if not any(r.has_changes for r in self.results):
            lines.append("Aucun changement : le référentiel était déjà chargé.")
        if self.dry_run:
            lines.append("Simulation (--dry-run) : rien n'a été enregistré.")
        return lines


def rejection_message(exc: ImportFileError) -> str:
    """The French report of a rejected file: every error, and the reminder that nothing was written."""
    lines = [f"Fichier rejeté : {len(exc.errors)} erreur(s), rien n'a été enregistré."]
    read_as = []
    if exc.encoding:
        read_as.append(f"encodage {exc.encoding}")
    if exc.delimiter:
        read_as.append(f"séparateur {DELIMITER_LABELS.get(exc.delimiter, exc.delimiter)}")
    if read_as:
        lines.append("Fichier lu avec : " + ", ".join(read_as) + ".")
    lines.extend(f"- {error}" for error in exc.errors)
    return "\n".join(lines)


def read_file(path: str | Path) -> bytes:
    """The bytes of the file to import, or an ImportFileError in French."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        reason = "fichier introuvable"
    except IsADirectoryError:
        reason = "c'est un dossier"
    except PermissionError:
        reason = "accès refusé"
    except OSError as exc:
        reason = f"erreur système ({exc.strerror})"
    raise ImportFileError([LineError(None, f"Impossible de lire le fichier « {path} » : {reason}.")])


# --------------------------------------------------------------------------- shared helpers


def _canon(value: str) -> str:
    """`Lycée polyvalent` → `LYCEE POLYVALENT`: upper case, no accents, punctuation as single spaces."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    text = "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", text).split())


def normalize_departement_code(value: str) -> str:
    """`077` (school files) and `77` (communes file) are the same département: `77`."""
    code = (value or "").strip().upper()
    if len(code) == 3 and code.startswith("0"):
        code = code[1:]
    return code


_DEPARTEMENT_CODE = re.compile(r"^(\d{2}|2[AB]|97\d)$")
_INSEE_CODE = re.compile(r"^(\d{5}|2[AB]\d{3})$")


def _reject(errors: list[LineError], csv_file: CsvFile) -> None:
    if errors:
        raise ImportFileError(errors, encoding=csv_file.encoding, delimiter=csv_file.delimiter)


def _coordinates(
    csv_file: CsvFile,
    fields: list[str],
    line: int,
    columns: tuple[str, str],
    shown: tuple[str, str],
    errors: list[LineError],
) -> tuple[float, float] | None:
    """(latitude, longitude) in WGS84 if the row has them; None if both cells are empty."""
    texts = [csv_file.value(fields, column) for column in columns]
    if not any(texts):
        return None
    values: list[float | None] = []
    for text, name, bound in zip(texts, shown, (90, 180), strict=True):
        if not text:
            errors.append(
                LineError(line, "Coordonnée manquante : la latitude et la longitude vont ensemble.", name, "")
            )
            values.append(None)
            continue
        number = parse_float(text)
        if number is None or not math.isfinite(number):
            errors.append(LineError(line, "Ce n'est pas un nombre (ex. 48.79).", name, text))
            values.append(None)
        elif not -bound <= number <= bound:
            errors.append(LineError(line, f"Valeur hors limites (entre -{bound} et {bound}).", name, text))
            values.append(None)
        else:
            values.append(number)
    if None in values:
        return None
    return values[0], values[1]


def _finish(result: ImportResult, dry_run: bool) -> ImportResult:
    result.dry_run = dry_run
    if dry_run:
        transaction.set_rollback(True)
    return result


# --------------------------------------------------------------------------- communes

COMMUNE_COLUMNS = {
    "codeinsee": "code_insee",
    "nom": "nom",
    "departement": "departement",
    "codespostaux": "codes_postaux",
    "latitudecentre": "latitude_centre",
    "longitudecentre": "longitude_centre",
}
# A file may name a département the référentiel does not know yet; without a name it is an error.
DEPARTEMENT_NAME_COLUMNS = ("nomdepartement", "libelledepartement")
COMMUNE_FIELDS = {
    "nom": "nom",
    "departement_id": "département",
    "code_postal": "code postal",
    "codes_postaux": "codes postaux",
    "latitude": "centre",
    "longitude": "centre",
}


def import_communes(data: bytes, *, dry_run: bool = False) -> ImportResult:
    """Import communes (FORMATS.md "Reference data", communes): key = INSEE code; name, département,
    postal codes (the first one is the commune's code postal), centre. Départements are matched by
    their code (`077` = `77`); an unknown one is created only if the file gives its name."""
    csv_file = read_csv(data, COMMUNE_COLUMNS)
    name_column = next((c for c in DEPARTEMENT_NAME_COLUMNS if c in csv_file.columns), None)
    result = ImportResult(
        "communes", "communes (code_insee;nom;departement;…)", csv_file.encoding, csv_file.delimiter_label
    )
    result.lines = len(csv_file.rows)
    with transaction.atomic():
        departements = {d.code: d for d in Departement.objects.all()}
        new_departements: dict[str, tuple[str, int]] = {}
        errors: list[LineError] = []
        parsed: dict[str, dict] = {}
        first_line: dict[str, int] = {}
        for line, fields in csv_file.rows:
            code = csv_file.value(fields, "codeinsee").upper()
            nom = csv_file.value(fields, "nom")
            departement_text = csv_file.value(fields, "departement")
            departement = normalize_departement_code(departement_text)
            row_errors: list[LineError] = []
            if not _INSEE_CODE.match(code):
                row_errors.append(
                    LineError(line, "Code INSEE invalide : 5 caractères attendus (ex. 94028).", "code_insee", code)
                )
            elif code in first_line:
                row_errors.append(
                    LineError(line, f"Commune en double (déjà ligne {first_line[code]}).", "code_insee", code)
                )
            if not nom:
                row_errors.append(LineError(line, "Le nom de la commune est vide.", "nom", nom))
            elif len(nom) > 150:
                row_errors.append(LineError(line, "Nom trop long (150 caractères au plus).", "nom", nom))
            if not _DEPARTEMENT_CODE.match(departement):
                row_errors.append(
                    LineError(line, "Code de département invalide (ex. 77).", "departement", departement_text)
                )
            elif departement not in departements:
                name = csv_file.value(fields, name_column) if name_column else ""
                if not name:
                    row_errors.append(
                        LineError(
                            line,
                            "Département inconnu : il n'est pas dans le référentiel et le fichier ne donne pas "
                            "son nom (colonne « nom_departement »).",
                            "departement",
                            departement_text,
                        )
                    )
                elif departement in new_departements and new_departements[departement][0] != name:
                    previous, previous_line = new_departements[departement]
                    row_errors.append(
                        LineError(
                            line,
                            f"Nom du département différent de celui de la ligne {previous_line} (« {previous} »).",
                            name_column,
                            name,
                        )
                    )
                else:
                    new_departements.setdefault(departement, (name[:100], line))
            if _INSEE_CODE.match(code) and _DEPARTEMENT_CODE.match(departement) and not code.startswith(departement):
                row_errors.append(
                    LineError(
                        line,
                        f"Le code INSEE ne commence pas par celui du département ({departement}).",
                        "code_insee",
                        code,
                    )
                )
            postal_text = csv_file.value(fields, "codespostaux")
            postal_codes = [p.strip() for p in postal_text.split("|") if p.strip()]
            bad = [p for p in postal_codes if not re.fullmatch(r"\d{5}", p)]
            if bad:
                row_errors.append(
                    LineError(
                        line,
                        "Code postal invalide : 5 chiffres attendus, séparés par « | ».",
                        "codes_postaux",
                        postal_text,
                    )
                )
            elif len("|".join(postal_codes)) > 200:
                row_errors.append(LineError(line, "Trop de codes postaux.", "codes_postaux", postal_text))
            centre = _coordinates(
                csv_file,
                fields,
                line,
                ("latitudecentre", "longitudecentre"),
                ("latitude_centre", "longitude_centre"),
                row_errors,
            )
            if code and code not in first_line:
                first_line[code] = line
            if row_errors:
                errors.extend(row_errors)
                continue
            parsed[code] = {
                "nom": nom,
                "departement": departement,
                "code_postal": postal_codes[0] if postal_codes else "",
                "codes_postaux": "|".join(postal_codes),
                "latitude": centre[0] if centre else None,
                "longitude": centre[1] if centre else None,
            }
        _reject(errors, csv_file)

        if new_departements:
            created = Departement.objects.bulk_create(
                [Departement(code=code, nom=name) for code, (name, _line) in sorted(new_departements.items())]
            )
            for departement in created:
                departements[departement.code] = departement
                result.notes.append(f"Département ajouté : {departement}.")
        existing = {c.code_insee: c for c in Commune.objects.filter(code_insee__in=parsed)}
        to_create, to_update = [], []
        for code, values in parsed.items():
            departement = departements[values.pop("departement")]
            values["departement_id"] = departement.pk
            commune = existing.get(code)
            if commune is None:
                to_create.append(Commune(code_insee=code, **values))
                result.added_items.append(Change(code, values["nom"]))
                continue
            changed = _apply(commune, values, COMMUNE_FIELDS)
            if changed:
                to_update.append(commune)
                result.updated_items.append(Change(code, commune.nom, changed))
            else:
                result.unchanged += 1
        Commune.objects.bulk_create(to_create)
        if to_update:
            Commune.objects.bulk_update(to_update, list(COMMUNE_FIELDS))
        return _finish(result, dry_run)


def _apply(obj, values: dict, labels: dict[str, str]) -> tuple[str, ...]:
    """Set `values` on `obj`; the labels of the fields that changed, without repeats."""
    changed: list[str] = []
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            if labels[name] not in changed:
                changed.append(labels[name])
    return tuple(changed)


# --------------------------------------------------------------------------- disciplines

DISCIPLINE_COLUMNS = {"code": "code", "libelle": "libelle"}
_DISCIPLINE_CODE = re.compile(r"^[A-Z0-9]{2,10}$")


def import_disciplines(data: bytes, *, dry_run: bool = False) -> ImportResult:
    """Import disciplines de poste (FORMATS.md "Reference data", disciplines): key = code; label and
    full-time hours (`heures_temps_plein`, a whole number from 1 to 36: the target of a jumelage).
    Without hours (empty cell or no column) a new discipline gets 18 h and a known one keeps its hours."""
    csv_file = read_csv(data, DISCIPLINE_COLUMNS, {"heurestempsplein": "heures_temps_plein"})
    result = ImportResult(
        "disciplines", "disciplines (code;libelle;heures_temps_plein)", csv_file.encoding, csv_file.delimiter_label
    )
    result.lines = len(csv_file.rows)
    errors: list[LineError] = []
    parsed: dict[str, dict] = {}
    first_line: dict[str, int] = {}
    for line, fields in csv_file.rows:
        code = csv_file.value(fields, "code").upper()
        libelle = csv_file.value(fields, "libelle")
        heures_text = csv_file.value(fields, "heurestempsplein")
        row_errors: list[LineError] = []
        if not _DISCIPLINE_CODE.match(code):
            row_errors.append(
                LineError(line, "Code de discipline invalide : 2 à 10 lettres ou chiffres (ex. L1300).", "code", code)
            )
        elif code in first_line:
            row_errors.append(LineError(line, f"Discipline en double (déjà ligne {first_line[code]}).", "code", code))
        if not libelle:
            row_errors.append(LineError(line, "Le libellé est vide.", "libelle", libelle))
        elif len(libelle) > 150:
            row_errors.append(LineError(line, "Libellé trop long (150 caractères au plus).", "libelle", libelle))
        heures = None
        if heures_text:
            try:
                number = parse_decimal(heures_text)
            except ValueError as exc:
                row_errors.append(LineError(line, f"Ce nombre d'heures {exc}.", "heures_temps_plein", heures_text))
            else:
                if number != number.to_integral_value() or not 1 <= number <= 36:
                    row_errors.append(
                        LineError(
                            line,
                            "Le temps plein doit être un nombre entier d'heures entre 1 et 36.",
                            "heures_temps_plein",
                            heures_text,
                        )
                    )
                else:
                    heures = int(number)
        first_line.setdefault(code, line)
        if row_errors:
            errors.extend(row_errors)
            continue
        parsed[code] = {"libelle": libelle, "heures_temps_plein": heures}
    _reject(errors, csv_file)

    labels = {"libelle": "libellé", "heures_temps_plein": "heures d'un temps plein"}
    with transaction.atomic():
        existing = {d.code: d for d in Discipline.objects.filter(code__in=parsed)}
        to_create, to_update = [], []
        for code, values in parsed.items():
            discipline = existing.get(code)
            if discipline is None:
                heures = values["heures_temps_plein"] or DEFAULT_HEURES_TEMPS_PLEIN
                to_create.append(Discipline(code=code, libelle=values["libelle"], heures_temps_plein=heures))
                result.added_items.append(Change(code, values["libelle"]))
                continue
            if values["heures_temps_plein"] is None:
                del values["heures_temps_plein"]
            changed = _apply(discipline, values, labels)
            if changed:
                to_update.append(discipline)
                result.updated_items.append(Change(code, discipline.libelle, changed))
            else:
                result.unchanged += 1
        Discipline.objects.bulk_create(to_create)
        if to_update:
            Discipline.objects.bulk_update(to_update, list(labels))
        return _finish(result, dry_run)


# --------------------------------------------------------------------------- zones de remplacement

ZONE_COLUMNS = {"codezone": "code_zone", "libellezone": "libelle_zone", "codeinsee": "code_insee"}


def import_zones(data: bytes, *, dry_run: bool = False) -> ImportResult:
    """Import zones de remplacement (FORMATS.md "Reference data", zones): one line per commune of a
    zone; key = zone code. Each commune must already exist. A zone of the file gets exactly the
    file's communes; a zone absent from the file is left alone."""
    csv_file = read_csv(data, ZONE_COLUMNS)
    result = ImportResult(
        "zones de remplacement",
        "zones de remplacement (code_zone;libelle_zone;code_insee)",
        csv_file.encoding,
        csv_file.delimiter_label,
    )
    result.lines = len(csv_file.rows)
    with transaction.atomic():
        codes_insee = {csv_file.value(fields, "codeinsee").upper() for _line, fields in csv_file.rows}
        communes = {c.code_insee: c for c in Commune.objects.filter(code_insee__in=codes_insee)}
        errors: list[LineError] = []
        zones: dict[str, dict] = {}
        for line, fields in csv_file.rows:
            code = csv_file.value(fields, "codezone")
            libelle = csv_file.value(fields, "libellezone")
            code_insee = csv_file.value(fields, "codeinsee").upper()
            if not code:
                errors.append(LineError(line, "Le code de la zone est vide.", "code_zone", code))
                continue
            if len(code) > 20:
                errors.append(LineError(line, "Code de zone trop long (20 caractères au plus).", "code_zone", code))
                continue
            zone = zones.setdefault(code, {"libelle": libelle, "line": line, "communes": {}})
            if not libelle:
                errors.append(LineError(line, "Le libellé de la zone est vide.", "libelle_zone", libelle))
            elif len(libelle) > 150:
                errors.append(LineError(line, "Libellé trop long (150 caractères au plus).", "libelle_zone", libelle))
            elif zone["libelle"] and libelle != zone["libelle"]:
                errors.append(
                    LineError(
                        line,
                        f"Libellé différent de celui de la ligne {zone['line']} (« {zone['libelle']} ») "
                        "pour la même zone.",
                        "libelle_zone",
                        libelle,
                    )
                )
            commune = communes.get(code_insee)
            if commune is None:
                errors.append(
                    LineError(
                        line,
                        "Commune inconnue : importez d'abord les communes (python manage.py import_communes).",
                        "code_insee",
                        code_insee,
                    )
                )
            elif commune.pk in zone["communes"]:
                errors.append(
                    LineError(
                        line,
                        f"Commune déjà listée pour cette zone (ligne {zone['communes'][commune.pk]}).",
                        "code_insee",
                        code_insee,
                    )
                )
            else:
                zone["communes"][commune.pk] = line
        _reject(errors, csv_file)

        Through = ZoneRemplacement.communes.through
        existing = {z.code: z for z in ZoneRemplacement.objects.filter(code__in=zones)}
        links: dict[int, dict[int, int]] = {}
        for link_id, zone_id, commune_id in Through.objects.filter(zoneremplacement__in=existing.values()).values_list(
            "id", "zoneremplacement_id", "commune_id"
        ):
            links.setdefault(zone_id, {})[commune_id] = link_id
        to_create = [
            ZoneRemplacement(code=code, libelle=z["libelle"]) for code, z in zones.items() if code not in existing
        ]
        ZoneRemplacement.objects.bulk_create(to_create)
        for zone in to_create:
            result.added_items.append(
                Change(zone.code, zone.libelle, (f"{len(zones[zone.code]['communes'])} communes",))
            )
        to_update, new_links, removed_links = [], [], []
        for zone in [*existing.values(), *to_create]:
            wanted = set(zones[zone.code]["communes"])
            current = links.get(zone.pk, {})
            added = wanted - set(current)
            removed = set(current) - wanted
            new_links.extend(Through(zoneremplacement_id=zone.pk, commune_id=pk) for pk in sorted(added))
            removed_links.extend(current[pk] for pk in removed)
            if zone.code not in existing:
                continue
            changed = []
            if zone.libelle != zones[zone.code]["libelle"]:
                zone.libelle = zones[zone.code]["libelle"]
                to_update.append(zone)
                changed.append("libellé")
            if added or removed:
                changed.append(f"communes : {len(added)} ajoutée(s), {len(removed)} retirée(s)")
            if changed:
                result.updated_items.append(Change(zone.code, zone.libelle, tuple(changed)))
            else:
                result.unchanged += 1
        if to_update:
            ZoneRemplacement.objects.bulk_update(to_update, ["libelle"])
        if removed_links:
            Through.objects.filter(id__in=removed_links).delete()
        Through.objects.bulk_create(new_links)
        return _finish(result, dry_run)


# --------------------------------------------------------------------------- schools


@dataclass(frozen=True)
class SchoolFormat:
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


FORMAT_ANNUAIRE = SchoolFormat(
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
FORMAT_GEOLOC = SchoolFormat(
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
FORMAT_IPS = SchoolFormat(
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
SCHOOL_FORMATS = (FORMAT_ANNUAIRE, FORMAT_GEOLOC, FORMAT_IPS)

# `libelle_nature` / `nature_uai_libe` (BCN nature of the UAI) → kind; canonical spelling (see _canon).
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

SCHOOL_FIELDS = {
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
class _SchoolRow:
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
    source = next((f for f in SCHOOL_FORMATS if f.matches(csv_file)), None)
    if source is None:
        raise _unrecognised_header(csv_file)
    errors: list[LineError] = []
    columns = source.resolve(csv_file, errors)
    _reject(errors, csv_file)
    result = ImportResult("établissements", source.name, csv_file.encoding, csv_file.delimiter_label)
    result.lines = len(csv_file.rows)

    def cell(fields: list[str], role: str) -> str:
        return csv_file.value(fields, columns[role][0]) if role in columns else ""

    def shown(role: str) -> str:
        return columns[role][1]

    # The académie is the départements of the référentiel: a national file loads its part of it.
    departements = {d.code: d for d in Departement.objects.all()}
    rows: list[_SchoolRow] = []
    first_line: dict[str, int] = {}
    for line, fields in csv_file.rows:
        nature_text = cell(fields, "nature")
        nature = _canon(nature_text)
        if _is_first_degree(_canon(cell(fields, "type")), nature, cell(fields, "nature_code")):
            result.skipped[SKIP_PREMIER_DEGRE] += 1
            continue
        statut_text = cell(fields, "statut")
        statut = _canon(statut_text)
        if statut.startswith("PRIVE"):
            result.skipped[SKIP_PRIVE] += 1
            continue
        if statut != "PUBLIC":
            errors.append(
                LineError(line, "Secteur non reconnu : « Public » ou « Privé » attendu.", shown("statut"), statut_text)
            )
            continue
        ministere = _canon(cell(fields, "ministere"))
        if ministere and "EDUCATION NATIONALE" not in ministere:
            result.skipped[SKIP_MINISTERE] += 1
            continue
        if "type_lycee" in columns:
            type_text = cell(fields, "type_lycee")
            kind = IPS_TYPES.get(_canon(type_text))
        else:
            type_text = nature_text or cell(fields, "type")
            kind = NATURES.get(nature) if nature else ANNUAIRE_TYPES.get(_canon(cell(fields, "type")))
        if kind is None:
            result.skipped[SKIP_TYPE] += 1
            result.skipped_types[type_text or "(vide)"] += 1
            continue
        row_errors: list[LineError] = []
        departement = None
        if "departement" in columns:
            departement_text = cell(fields, "departement")
            departement = normalize_departement_code(departement_text)
            if not _DEPARTEMENT_CODE.match(departement):
                row_errors.append(
                    LineError(line, "Code de département invalide (ex. 077).", shown("departement"), departement_text)
                )
            elif departement not in departements:
                result.skipped[SKIP_HORS_ACADEMIE] += 1
                continue
        ouvert = None
        if "etat" in columns:
            etat_text = cell(fields, "etat")
            ouvert = ETATS.get(_canon(etat_text))
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
            coordinates = _coordinates(
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
        rows.append(_SchoolRow(line, uai, nom, kind, ouvert, departement, cell(fields, "commune").upper(), coordinates))

    with transaction.atomic():
        departements_by_pk = {d.pk: d for d in departements.values()}
        communes = {c.code_insee: c for c in Commune.objects.filter(code_insee__in={r.commune for r in rows})}
        existing = {e.uai: e for e in Etablissement.objects.filter(uai__in={r.uai for r in rows})}
        kept: list[_SchoolRow] = []
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
            _reject(errors, csv_file)

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
            changed = _apply(school, values, SCHOOL_FIELDS)
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
            Etablissement.objects.bulk_update(to_update, list(SCHOOL_FIELDS))
        return _finish(result, dry_run)


# --------------------------------------------------------------------------- the shipped real data


def load_reference_data(directory: str | Path | None = None, *, dry_run: bool = False) -> ReferenceDataResult:
    """Load the real reference data shipped with JUMO (fixtures/README.md): communes, disciplines,
    collèges (geolocation file), lycées (IPS file, approximate positions), then zones de remplacement
    if a zones file exists (none is published). All in one transaction; idempotent."""
    directory = Path(directory or settings.JUMO_REFERENCE_DATA_DIR)
    outcome = ReferenceDataResult(directory=directory, dry_run=dry_run)
    steps = [
        (REFERENCE_FILES["communes"], import_communes),
        (REFERENCE_FILES["disciplines"], import_disciplines),
        (REFERENCE_FILES["colleges"], import_etablissements),
        (REFERENCE_FILES["lycees"], import_etablissements),
    ]
    zones_path = directory / REFERENCE_FILES["zones"]
    outcome.zones_published = zones_path.exists()
    if outcome.zones_published:
        steps.append((REFERENCE_FILES["zones"], import_zones))
    with transaction.atomic():
        for name, function in steps:
            path = directory / name
            try:
                result = function(read_file(path))
            except ImportFileError as exc:
                raise ImportFileError(
                    [LineError(None, f"Fichier « {path} » rejeté."), *exc.errors],
                    encoding=exc.encoding,
                    delimiter=exc.delimiter,
                ) from None
            result.file_name = name
            outcome.results.append(result)
        if dry_run:
            transaction.set_rollback(True)
    return outcome
