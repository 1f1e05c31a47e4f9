"""Fixtures shared by the BMP refresh tests: a campaign, five schools, three disciplines, a CSV builder."""

from decimal import Decimal

import pytest

from bmp.models import BMP
from tests.factories import CampagneFactory, DisciplineFactory, EtablissementFactory, valid_uai

HEADER = ["identifiant", "uai", "discipline", "libelle_discipline", "heures"]


def make_csv(rows, *, header=HEADER, delimiter=";", encoding="utf-8", bom=False, newline="\r\n") -> bytes:
    """The bytes of a refresh file; rows are lists of strings (or tuples), written as given."""
    lines = [delimiter.join(header)] + [delimiter.join(row) for row in rows]
    data = (newline.join(lines) + newline).encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def bmp_snapshot() -> list[tuple]:
    """Every BMP row, every column: to prove a rejected file changed nothing."""
    fields = [f.attname for f in BMP._meta.concrete_fields]
    return list(BMP.objects.order_by("pk").values_list(*fields))


@pytest.fixture
def campagne(db):
    return CampagneFactory(annee=2024)


@pytest.fixture
def schools(db):
    """Five schools; their UAIs are schools[i].uai."""
    return [EtablissementFactory(uai=valid_uai(n)) for n in range(1, 6)]


@pytest.fixture
def disciplines(db):
    return {
        "L1300": DisciplineFactory(code="L1300", libelle="MATHEMATIQUES"),
        "L0202": DisciplineFactory(code="L0202", libelle="LETTRES MODERNES"),
        "L1900": DisciplineFactory(code="L1900", libelle="EDUCATION PHYSIQUE ET SPORTIVE", heures_temps_plein=20),
    }


@pytest.fixture
def existing(campagne, schools, disciplines):
    """Three active BMPs already in the campaign (BMP-1 to BMP-3)."""
    return [
        BMP.objects.create(
            campagne=campagne,
            etablissement=schools[0],
            discipline=disciplines["L1300"],
            heures=Decimal("9"),
            identifiant="BMP-1",
        ),
        BMP.objects.create(
            campagne=campagne,
            etablissement=schools[1],
            discipline=disciplines["L0202"],
            heures=Decimal("6.5"),
            identifiant="BMP-2",
        ),
        BMP.objects.create(
            campagne=campagne,
            etablissement=schools[2],
            discipline=disciplines["L1900"],
            heures=Decimal("10"),
            identifiant="BMP-3",
        ),
    ]


@pytest.fixture
def same_file(schools):
    """The file describing exactly the `existing` BMPs."""
    return make_csv(
        [
            ["BMP-1", schools[0].uai, "L1300", "MATHEMATIQUES", "9"],
            ["BMP-2", schools[1].uai, "L0202", "LETTRES MODERNES", "6,5"],
            ["BMP-3", schools[2].uai, "L1900", "EDUCATION PHYSIQUE ET SPORTIVE", "10"],
        ]
    )
