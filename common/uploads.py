"""Uploaded files: size and type checked before anything reads them (issue 7's refresh upload).

Use UploadValidator on a form's FileField:
    fichier = forms.FileField(validators=[UploadValidator()])
or call validate_upload(file) in a view. Django itself caps the request body
(DATA_UPLOAD_MAX_MEMORY_SIZE) and keeps large files on disk (FILE_UPLOAD_MAX_MEMORY_SIZE); the
reverse proxy caps the request size too (client_max_body_size, README "Production").
"""

from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# Signatures of files that are certainly not text: zip (xlsx, ods, docx), old Office, PDF, images,
# executables.
BINARY_SIGNATURES = {
    b"PK\x03\x04": "une archive ou un classeur (xlsx, ods, zip)",
    b"\xd0\xcf\x11\xe0": "un document Office (xls, doc)",
    b"%PDF": "un PDF",
    b"\x89PNG": "une image",
    b"\xff\xd8\xff": "une image",
    b"GIF8": "une image",
    b"MZ": "un programme",
    b"\x7fELF": "un programme",
}
SNIFF_BYTES = 8192


def _taille(octets: int) -> str:
    if octets >= 1024 * 1024:
        return f"{octets / (1024 * 1024):.1f} Mo".replace(".", ",").replace(",0 ", " ")
    return f"{max(1, round(octets / 1024))} Ko"


def validate_upload(fichier, *, extensions=(".csv", ".txt"), max_bytes: int | None = None) -> None:
    """Refuse, with a French message, a file too large (JUMO_UPLOAD_MAX_BYTES), with another
    extension than `extensions`, or whose content is not text (binary signature, NUL bytes)."""
    max_bytes = settings.JUMO_UPLOAD_MAX_BYTES if max_bytes is None else max_bytes
    nom = PurePath(getattr(fichier, "name", "") or "").name
    taille = getattr(fichier, "size", None)
    if taille is not None and taille > max_bytes:
        raise ValidationError(
            f"Le fichier « {nom} » pèse {_taille(taille)} : la limite est de {_taille(max_bytes)}.",
            code="file_too_large",
        )
    if extensions and not nom.lower().endswith(tuple(e.lower() for e in extensions)):
        attendues = ", ".join(extensions)
        raise ValidationError(
            f"Le fichier « {nom} » n'a pas l'extension attendue ({attendues}).", code="file_extension"
        )
    position = fichier.tell() if hasattr(fichier, "tell") else None
    if hasattr(fichier, "seek"):
        fichier.seek(0)
    debut = fichier.read(SNIFF_BYTES)
    if position is not None:
        fichier.seek(position)
    if isinstance(debut, str):
        debut = debut.encode("utf-8", "replace")
    for signature, nature in BINARY_SIGNATURES.items():
        if debut.startswith(signature):
            raise ValidationError(
                f"Le fichier « {nom} » est {nature}, pas un fichier texte : enregistrez-le au format CSV.",
                code="file_type",
            )
    if b"\x00" in debut:
        raise ValidationError(
            f"Le fichier « {nom} » n'est pas un fichier texte : enregistrez-le au format CSV.", code="file_type"
        )


@deconstructible
class UploadValidator:
    """validate_upload as a field validator."""

    def __init__(self, extensions=(".csv", ".txt"), max_bytes: int | None = None):
        self.extensions = tuple(extensions)
        self.max_bytes = max_bytes

    def __call__(self, fichier):
        validate_upload(fichier, extensions=self.extensions, max_bytes=self.max_bytes)

    def __eq__(self, other):
        return (
            isinstance(other, UploadValidator)
            and self.extensions == other.extensions
            and self.max_bytes == other.max_bytes
        )
