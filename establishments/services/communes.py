"""Importing communes (FORMATS.md "Reference data", communes)."""

import re

from django.db import transaction

from ..csvfiles import LineError, read_csv
from ..models import Commune, Departement
from .shared import (
    DEPARTEMENT_CODE_PATTERN,
    INSEE_CODE_PATTERN,
    Change,
    ImportResult,
    apply_values,
    finish,
    normalize_departement_code,
    raise_if_errors,
    read_coordinates,
)

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
            if not INSEE_CODE_PATTERN.match(code):
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
            if not DEPARTEMENT_CODE_PATTERN.match(departement):
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
            if (
                INSEE_CODE_PATTERN.match(code)
                and DEPARTEMENT_CODE_PATTERN.match(departement)
                and not code.startswith(departement)
            ):
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
            centre = read_coordinates(
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
        raise_if_errors(errors, csv_file)

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
            changed = apply_values(commune, values, COMMUNE_FIELDS)
            if changed:
                to_update.append(commune)
                result.updated_items.append(Change(code, commune.nom, changed))
            else:
                result.unchanged += 1
        Commune.objects.bulk_create(to_create)
        if to_update:
            Commune.objects.bulk_update(to_update, list(COMMUNE_FIELDS))
        return finish(result, dry_run)
