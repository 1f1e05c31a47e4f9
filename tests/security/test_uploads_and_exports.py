"""common.uploads (size and type of uploaded files) and common.exports.safe_cell (CSV formula injection)."""

import csv
import io
from decimal import Decimal

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from common.exports import safe_cell, safe_row
from common.uploads import UploadValidator, validate_upload

CSV = b"identifiant;uai;discipline;libelle_discipline;heures\nBMP-1;0941234K;L1300;MATHS;9\n"


def upload(content: bytes, name="bmp.csv"):
    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_a_csv_within_the_limit_is_accepted(settings):
    settings.JUMO_UPLOAD_MAX_BYTES = 1024
    validate_upload(upload(CSV))
    validate_upload(upload("é;à\n".encode("cp1252"), name="BMP.CSV"))


def test_a_file_above_the_limit_is_refused(settings):
    settings.JUMO_UPLOAD_MAX_BYTES = 1024 * 1024
    with pytest.raises(ValidationError, match=r"pèse 2 Mo : la limite est de 1 Mo"):
        validate_upload(upload(b"a;b\n" * (512 * 1024)))


@pytest.mark.parametrize(
    "content, name, message",
    [
        (b"PK\x03\x04rest of a zip", "bmp.csv", "un classeur"),
        (b"\xd0\xcf\x11\xe0old excel", "bmp.csv", "un document Office"),
        (b"%PDF-1.7", "bmp.csv", "un PDF"),
        (b"a;b\x00c\n", "bmp.csv", "n'est pas un fichier texte"),
        (CSV, "bmp.xlsx", "n'a pas l'extension attendue"),
        (CSV, "bmp.csv.exe", "n'a pas l'extension attendue"),
    ],
)
def test_a_file_that_is_not_a_csv_is_refused(content, name, message):
    with pytest.raises(ValidationError, match=message):
        validate_upload(upload(content, name=name))


def test_the_validator_leaves_the_file_readable_from_the_start():
    fichier = upload(CSV)
    validate_upload(fichier)
    assert fichier.read() == CSV


def test_the_validator_in_a_form():
    class Form(forms.Form):
        fichier = forms.FileField(validators=[UploadValidator(max_bytes=10)])

    form = Form(files={"fichier": upload(CSV)})
    assert not form.is_valid()
    assert "la limite est de 1 Ko" in form.errors["fichier"][0]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+33 1 23", "'+33 1 23"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ('  =HYPERLINK("http://x")', '\'  =HYPERLINK("http://x")'),
        ("Collège Jean Moulin", "Collège Jean Moulin"),
        ("L1300 – MATHEMATIQUES", "L1300 – MATHEMATIQUES"),
        ("a=b", "a=b"),
        ("-3,5", "-3,5"),
        ("+2", "+2"),
        (Decimal("-9.50"), Decimal("-9.50")),
        (-3, -3),
        (None, ""),
        (True, "oui"),
    ],
)
def test_safe_cell_neutralises_formulas(value, expected):
    assert safe_cell(value) == expected


def test_a_csv_written_with_safe_row_has_no_formula():
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerow(safe_row(["=cmd()", "Collège", 9, "@x"]))
    assert buffer.getvalue() == "'=cmd();Collège;9;'@x\r\n"
