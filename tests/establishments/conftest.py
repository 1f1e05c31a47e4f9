"""Helpers for the référentiel import tests: the real shipped files, and small files built in tests."""

from pathlib import Path

import pytest
from django.conf import settings

from establishments.services import import_communes, read_file

FIXTURES = Path(settings.JUMO_REFERENCE_DATA_DIR)
COMMUNES_FILE = FIXTURES / "communes_77_93_94.csv"
DISCIPLINES_FILE = FIXTURES / "disciplines_de_poste.csv"
COLLEGES_FILE = FIXTURES / "colleges_publics_77_93_94_geoloc.csv"
LYCEES_FILE = FIXTURES / "lycees_publics_77_93_94_ips_2021.csv"
ANNUAIRE_FILE = FIXTURES / "raw" / "annuaire_education_ecoles_094_Isabelle0368.csv"


def annuaire_header() -> list[str]:
    """The real 72-column header of the Annuaire de l'éducation export shipped in fixtures/raw/."""
    first_line = ANNUAIRE_FILE.read_text(encoding="utf-8-sig").splitlines()[0]
    return first_line.split(";")


def annuaire_file(rows: list[dict], encoding: str = "utf-8") -> bytes:
    """A test file in the Annuaire's format: the real header, the given cells, the other cells empty."""
    header = annuaire_header()
    lines = [";".join(header)]
    for row in rows:
        unknown = set(row) - set(header)
        assert not unknown, unknown
        lines.append(";".join(str(row.get(column, "")) for column in header))
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def real_line(path: Path, uai: str) -> str:
    """The line of a shipped file that holds this UAI, unchanged."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if uai in line.split(";"):
            return line
    raise AssertionError(f"{uai} not in {path.name}")


def header_of(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0]


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


@pytest.fixture
def communes(db):
    """The 594 real communes of 77, 93 and 94."""
    return import_communes(read_file(COMMUNES_FILE))
