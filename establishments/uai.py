"""The UAI (formerly RNE): 7 digits and a check letter, UAI_LETTERS[the 7 digits % 23] (no I, O, Q)."""

import re

from django.core.exceptions import ValidationError

UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_UAI_SHAPE = re.compile(r"^\d{7}[A-Z]$")


def uai_check_letter(digits: str) -> str:
    return UAI_LETTERS[int(digits) % 23]


def uai_error(value: str) -> str | None:
    """The French sentence explaining why `value` is not a valid UAI, or None if it is."""
    uai = (value or "").strip().upper()
    if not uai:
        return "L'UAI est vide."
    if not _UAI_SHAPE.match(uai):
        return f"« {value} » n'est pas un UAI : il faut 7 chiffres suivis d'une lettre (ex. 0930043S)."
    expected = uai_check_letter(uai[:7])
    if uai[7] != expected:
        return f"L'UAI « {value} » a une lettre clé erronée : la lettre attendue est « {expected} »."
    return None


def normalize_uai(value: str) -> str:
    return (value or "").strip().upper()


def validate_uai(value: str) -> None:
    """Django validator for model and form fields."""
    error = uai_error(value)
    if error:
        raise ValidationError(error, code="invalid_uai")
