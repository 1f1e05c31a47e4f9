"""What every référentiel import shares: its result, the French report of a rejected file,
reading the file, and the checks and writes common to the four importers."""

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from ..csvfiles import DELIMITER_LABELS, CsvFile, ImportFileError, LineError, parse_float

# Reasons for which a school row is skipped (counted, never an error).
SKIP_PREMIER_DEGRE = "premier degré"
SKIP_PRIVE = "privé"
SKIP_TYPE = "type non retenu"
SKIP_MINISTERE = "autre ministère que l'Éducation nationale"
SKIP_FERME_INCONNU = "fermé et absent de JUMO"
SKIP_HORS_ACADEMIE = "hors académie (département absent du référentiel)"


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


# --------------------------------------------------------------------------- helpers


def canonical(value: str) -> str:
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


DEPARTEMENT_CODE_PATTERN = re.compile(r"^(\d{2}|2[AB]|97\d)$")
INSEE_CODE_PATTERN = re.compile(r"^(\d{5}|2[AB]\d{3})$")


def raise_if_errors(errors: list[LineError], csv_file: CsvFile) -> None:
    """Reject the whole file if any row had an error."""
    if errors:
        raise ImportFileError(errors, encoding=csv_file.encoding, delimiter=csv_file.delimiter)


def read_coordinates(
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


def finish(result: ImportResult, dry_run: bool) -> ImportResult:
    """End an import: on a dry run, roll its writes back."""
    result.dry_run = dry_run
    if dry_run:
        transaction.set_rollback(True)
    return result


def apply_values(obj, values: dict, labels: dict[str, str]) -> tuple[str, ...]:
    """Set `values` on `obj`; the labels of the fields that changed, without repeats."""
    changed: list[str] = []
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            if labels[name] not in changed:
                changed.append(labels[name])
    return tuple(changed)
