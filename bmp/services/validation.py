"""Reading and validating the whole refresh file before anything is written (FORMATS.md "BMP refresh")."""

from decimal import Decimal

from establishments.csvfiles import ImportFileError, LineError, parse_decimal, read_csv
from establishments.models import Discipline, Etablissement
from establishments.uai import normalize_uai, uai_error

from ..models import BMP
from .results import Progress, RefreshResult

REQUIRED_COLUMNS = {
    "identifiant": "identifiant",
    "uai": "uai",
    "discipline": "discipline",
    "heures": "heures",
}
OPTIONAL_COLUMNS = {"libellediscipline": "libelle_discipline"}

MAX_HOURS = Decimal(36)
IDENTIFIANT_MAX_LENGTH = BMP._meta.get_field("identifiant").max_length
DISCIPLINE_CODE_MAX_LENGTH = Discipline._meta.get_field("code").max_length
DISCIPLINE_LABEL_MAX_LENGTH = Discipline._meta.get_field("libelle").max_length

# How often validation reports progress.
PROGRESS_EVERY = 10_000


# A valid line: (identifiant, etablissement id, discipline code, hours). Plain tuples: 150,000 of them.
Row = tuple[str, int, str, Decimal]


def read_and_validate(data: bytes, result: RefreshResult, progress: Progress | None) -> tuple[list[Row], list[dict]]:
    """Every check of FORMATS.md "BMP refresh", on the whole file; raises ImportFileError with every error."""
    csv_file = read_csv(data, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
    result.encoding, result.delimiter = csv_file.encoding, csv_file.delimiter
    result.lignes = total = len(csv_file.rows)

    schools = dict(Etablissement.objects.order_by().values_list("uai", "id"))
    disciplines = dict(Discipline.objects.order_by().values_list("code", "id"))
    i_identifiant = csv_file.columns["identifiant"]
    i_uai = csv_file.columns["uai"]
    i_discipline = csv_file.columns["discipline"]
    i_heures = csv_file.columns["heures"]
    i_libelle = csv_file.columns.get("libellediscipline")

    # An unknown discipline code is created when some line gives its label.
    new_labels: dict[str, str] = {}
    if i_libelle is not None:
        for _line, fields in csv_file.rows:
            code = fields[i_discipline].strip().upper()
            if code not in disciplines and code not in new_labels:
                label = fields[i_libelle].strip()
                if label and code:
                    new_labels[code] = label

    # Each distinct UAI, code and hours value is checked once (11,000 schools, 150,000 lines).
    uai_checked: dict[str, tuple[int | None, str | None]] = {}
    code_checked: dict[str, str | None] = {}
    hours_checked: dict[str, tuple[Decimal | None, str | None]] = {}
    first_line: dict[str, int] = {}
    rows: list[Row] = []
    errors: list[LineError] = []
    for done, (line, fields) in enumerate(csv_file.rows, start=1):
        if progress and not done % PROGRESS_EVERY:
            progress("validation", done, total)
        identifiant = fields[i_identifiant].strip()
        raw_uai = fields[i_uai]
        code = fields[i_discipline].strip().upper()
        raw_hours = fields[i_heures].strip()

        first = first_line.setdefault(identifiant, line)
        checked_uai = uai_checked.get(raw_uai)
        if checked_uai is None:
            checked_uai = uai_checked[raw_uai] = _check_uai(raw_uai, schools)
        if code in code_checked:
            code_message = code_checked[code]
        else:
            code_message = code_checked[code] = _check_discipline(code, disciplines, new_labels)
        checked_hours = hours_checked.get(raw_hours)
        if checked_hours is None:
            checked_hours = hours_checked[raw_hours] = _check_hours(raw_hours)

        if (
            first == line
            and identifiant
            and len(identifiant) <= IDENTIFIANT_MAX_LENGTH
            and checked_uai[1] is None
            and code_message is None
            and checked_hours[1] is None
        ):
            if not errors:
                rows.append((identifiant, checked_uai[0], code, checked_hours[0]))
            continue

        if not identifiant:
            errors.append(LineError(line, "L'identifiant est vide.", "identifiant", ""))
        elif first != line:
            message = f"Identifiant en double : il figure déjà ligne {first}."
            errors.append(LineError(line, message, "identifiant", identifiant))
        elif len(identifiant) > IDENTIFIANT_MAX_LENGTH:
            message = f"L'identifiant dépasse {IDENTIFIANT_MAX_LENGTH} caractères."
            errors.append(LineError(line, message, "identifiant", identifiant))
        if checked_uai[1]:
            errors.append(LineError(line, checked_uai[1], "uai", raw_uai.strip()))
        if code_message:
            errors.append(LineError(line, code_message, "discipline", fields[i_discipline].strip()))
        if checked_hours[1]:
            errors.append(LineError(line, checked_hours[1], "heures", raw_hours))
    if progress:
        progress("validation", total, total)
    if errors:
        raise ImportFileError(errors, encoding=csv_file.encoding, delimiter=csv_file.delimiter)
    created = [{"code": code, "libelle": label} for code, label in sorted(new_labels.items())]
    return rows, created


def _check_uai(raw: str, schools: dict[str, int]) -> tuple[int | None, str | None]:
    """A well-formed UAI with the right key letter (establishments.uai), of a known school."""
    uai = normalize_uai(raw)
    message = uai_error(uai)
    if message:
        return None, message
    school_id = schools.get(uai)
    if school_id is None:
        return None, f"Aucun établissement du référentiel ne porte l'UAI « {uai} »."
    return school_id, None


def _check_discipline(code: str, disciplines: dict[str, int], new_labels: dict[str, str]) -> str | None:
    """A known discipline code, or an unknown one whose label the file gives (it will be created)."""
    if not code:
        return "Le code discipline est vide."
    if code in disciplines:
        return None
    if code not in new_labels:
        return (
            f"Discipline « {code} » inconnue : corrigez le code, ou indiquez son libellé dans la "
            "colonne « libelle_discipline » pour la créer."
        )
    if len(code) > DISCIPLINE_CODE_MAX_LENGTH:
        return f"Le code discipline dépasse {DISCIPLINE_CODE_MAX_LENGTH} caractères."
    if len(new_labels[code]) > DISCIPLINE_LABEL_MAX_LENGTH:
        return f"Le libellé de la discipline « {code} » dépasse {DISCIPLINE_LABEL_MAX_LENGTH} caractères."
    return None


def _check_hours(raw: str) -> tuple[Decimal | None, str | None]:
    """Weekly hours of a BMP: a decimal, > 0, ≤ 36, at most two decimals."""
    if not raw:
        return None, "Les heures sont vides."
    try:
        hours = parse_decimal(raw, max_places=2)
    except ValueError as exc:
        return None, f"Heures invalides : la valeur {exc}."
    if hours <= 0:
        return None, "Les heures doivent être strictement positives."
    if hours > MAX_HOURS:
        return None, f"Les heures d'un BMP ne peuvent pas dépasser {MAX_HOURS} h par semaine."
    return hours, None
