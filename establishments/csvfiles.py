"""Reading the CSV files JUMO imports, with the rules shared by every import (FORMATS.md).

Encoding (UTF-8 with or without BOM, or Windows-1252) and delimiter (`;` or `,`) are
detected; column names are matched without regard to case, accents, spaces or
underscores; every problem is reported in French with its line, column and value.
"""

import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

ENCODING_UTF8 = "UTF-8"
ENCODING_UTF8_BOM = "UTF-8 (avec BOM)"
ENCODING_CP1252 = "Windows-1252"

DELIMITER_LABELS = {";": "point-virgule (;)", ",": "virgule (,)"}


@dataclass(frozen=True)
class LineError:
    """One problem in a file; line 1 is the header."""

    line: int | None
    message: str
    column: str | None = None
    value: str | None = None

    def __str__(self):
        where = []
        if self.line is not None:
            where.append(f"ligne {self.line}")
        if self.column:
            where.append(f"colonne « {self.column} »")
        if self.value is not None:
            where.append(f"valeur « {self.value} »")
        prefix = ", ".join(where)
        return f"{prefix[:1].upper()}{prefix[1:]} : {self.message}" if prefix else self.message

    def as_dict(self) -> dict:
        return {"ligne": self.line, "colonne": self.column, "valeur": self.value, "message": self.message}


class ImportFileError(Exception):
    """The file is rejected whole; `errors` lists every problem found."""

    def __init__(self, errors: list[LineError], *, encoding: str = "", delimiter: str = ""):
        self.errors = errors
        self.encoding = encoding
        self.delimiter = delimiter
        super().__init__("\n".join(str(e) for e in errors))


def normalize_column(name: str) -> str:
    """`Libellé discipline` and `libelle_discipline` both give `libellediscipline`."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    without_accents = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\s_]+", "", without_accents).lower().lstrip("\ufeff")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes) -> tuple[str, str]:
    """Decode `data` as UTF-8 (BOM or not) or Windows-1252; reject other or mixed encodings."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise ImportFileError(
            [
                LineError(
                    None,
                    "Encodage non pris en charge (UTF-16 ou fichier binaire) : enregistrez le fichier en UTF-8 "
                    "ou en Windows-1252 (CSV).",
                )
            ]
        )
    if data.startswith(b"\xef\xbb\xbf"):
        body, encoding = data[3:], ENCODING_UTF8_BOM
    else:
        body, encoding = data, ENCODING_UTF8
    try:
        return body.decode("utf-8"), encoding
    except UnicodeDecodeError:
        pass
    # Not UTF-8 as a whole: Windows-1252, unless some lines are UTF-8 (a mixed file).
    utf8_lines, errors = [], []
    for number, raw_line in enumerate(body.split(b"\n"), start=1):
        if raw_line.isascii():
            continue
        try:
            raw_line.decode("utf-8")
            utf8_lines.append(number)
        except UnicodeDecodeError:
            try:
                raw_line.decode("cp1252")
            except UnicodeDecodeError:
                errors.append(LineError(number, "Octets invalides dans cette ligne : encodage non reconnu."))
    if utf8_lines:
        shown = ", ".join(str(n) for n in utf8_lines[:20])
        more = " …" if len(utf8_lines) > 20 else ""
        errors.insert(
            0,
            LineError(
                None,
                "Encodage mixte : certaines lignes sont en UTF-8 et d'autres en Windows-1252 "
                f"(lignes en UTF-8 : {shown}{more}). Enregistrez tout le fichier dans un seul encodage.",
            ),
        )
    if errors:
        raise ImportFileError(errors)
    return body.decode("cp1252"), ENCODING_CP1252


def detect_delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") >= header_line.count(",") and ";" in header_line else ","


@dataclass
class CsvFile:
    """A decoded, well-formed CSV: its header and rows (line number, dict of normalized column → value)."""

    encoding: str
    delimiter: str
    header: list[str]
    columns: dict[str, int]
    rows: list[tuple[int, list[str]]] = field(repr=False)
    sha256: str = ""

    def value(self, fields: list[str], column: str) -> str:
        index = self.columns.get(column)
        if index is None or index >= len(fields):
            return ""
        return fields[index].strip()

    @property
    def delimiter_label(self) -> str:
        return DELIMITER_LABELS[self.delimiter]


def read_csv(data: bytes, required: dict[str, str], optional: dict[str, str] | None = None) -> CsvFile:
    """Parse `data`, checking the header and every row's shape.

    `required` and `optional` map the normalized column name to the name shown in errors.
    Rows with a wrong number of fields are reported; blank lines are ignored.
    """
    if not data.strip():
        raise ImportFileError([LineError(None, "Le fichier est vide.")])
    text, encoding = decode(data)
    lines = text.splitlines()
    header_line = lines[0] if lines else ""
    delimiter = detect_delimiter(header_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise ImportFileError([LineError(1, f"En-tête illisible ({exc}).")], encoding=encoding) from None
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        columns.setdefault(normalize_column(name), index)
    missing = [shown for key, shown in required.items() if key not in columns]
    if missing:
        found = ", ".join(f"« {h} »" for h in header)
        raise ImportFileError(
            [
                LineError(1, f"Colonne obligatoire absente : « {name} » (colonnes trouvées : {found}).")
                for name in missing
            ],
            encoding=encoding,
            delimiter=delimiter,
        )
    other = "," if delimiter == ";" else ";"
    rows: list[tuple[int, list[str]]] = []
    errors: list[LineError] = []
    width = len(header)
    try:
        for fields in reader:
            line = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != width:
                joined = delimiter.join(fields)
                hint = ""
                if len(fields) < width and other in joined:
                    hint = f" Le séparateur de cette ligne semble être « {other} » au lieu de « {delimiter} »."
                elif len(fields) > width and delimiter == ",":
                    hint = (
                        " Une virgule décimale non protégée par des guillemets décale les colonnes"
                        " (utilisez « ; » comme séparateur)."
                    )
                elif len(fields) < width:
                    hint = " La ligne est peut-être tronquée."
                errors.append(
                    LineError(
                        line,
                        f"{len(fields)} champ(s) au lieu de {width} attendus.{hint}",
                        value=joined[:120],
                    )
                )
                continue
            rows.append((line, fields))
    except csv.Error as exc:
        errors.append(LineError(reader.line_num, f"Ligne CSV mal formée ({exc}), guillemet non fermé ?"))
    if errors:
        raise ImportFileError(errors, encoding=encoding, delimiter=delimiter)
    if not rows:
        raise ImportFileError(
            [LineError(None, "Le fichier ne contient que l'en-tête : aucune ligne de données.")],
            encoding=encoding,
            delimiter=delimiter,
        )
    return CsvFile(encoding, delimiter, header, columns, rows, sha256_of(data))


def parse_decimal(value: str, *, max_places: int = 2) -> Decimal:
    """`7,5` or `7.5` → Decimal('7.5'); raises ValueError with a French message."""
    text = value.strip().replace("\u00a0", "").replace(" ", "")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    if not re.fullmatch(r"[+-]?\d+(\.\d+)?|[+-]?\.\d+", text):
        raise ValueError("n'est pas un nombre décimal (ex. 7,5)")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError("n'est pas un nombre décimal (ex. 7,5)") from None
    if -number.as_tuple().exponent > max_places and number != number.quantize(Decimal(1).scaleb(-max_places)):
        raise ValueError(f"a plus de {max_places} décimales")
    return number


def parse_float(value: str) -> float | None:
    text = (value or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None
