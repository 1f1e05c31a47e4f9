"""Importing disciplines de poste (FORMATS.md "Reference data", disciplines)."""

import re

from django.db import transaction

from ..csvfiles import LineError, parse_decimal, read_csv
from ..models import Discipline
from .shared import Change, ImportResult, apply_values, finish, raise_if_errors

DEFAULT_HEURES_TEMPS_PLEIN = 18

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
    raise_if_errors(errors, csv_file)

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
            changed = apply_values(discipline, values, labels)
            if changed:
                to_update.append(discipline)
                result.updated_items.append(Change(code, discipline.libelle, changed))
            else:
                result.unchanged += 1
        Discipline.objects.bulk_create(to_create)
        if to_update:
            Discipline.objects.bulk_update(to_update, list(labels))
        return finish(result, dry_run)
