"""Loading the real reference data shipped with JUMO (fixtures/README.md)."""

from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from ..csvfiles import ImportFileError, LineError
from .communes import import_communes
from .disciplines import import_disciplines
from .etablissements import import_etablissements
from .shared import ImportResult, read_file
from .zones import import_zones

# The real files shipped in settings.JUMO_REFERENCE_DATA_DIR (fixtures/README.md says where each comes from).
REFERENCE_FILES = {
    "communes": "communes_77_93_94.csv",
    "disciplines": "disciplines_de_poste.csv",
    "colleges": "colleges_publics_77_93_94_geoloc.csv",
    "lycees": "lycees_publics_77_93_94_ips_2021.csv",
    "zones": "zones_remplacement.csv",
}
NO_ZONES_MESSAGE = "aucune zone de remplacement publiée : zones non renseignées"


@dataclass
class ReferenceDataResult:
    """What load_reference_data did, step by step."""

    directory: Path
    results: list[ImportResult] = field(default_factory=list)
    zones_published: bool = False
    dry_run: bool = False

    def summary_lines(self) -> list[str]:
        lines = [f"Référentiel chargé depuis {self.directory} :"]
        for result in self.results:
            lines.append(f"  {result.objet} ({result.file_name}) : {result.counts_line()}.")
        if not self.zones_published:
            lines.append(f"  {NO_ZONES_MESSAGE}.")
        if not any(r.has_changes for r in self.results):
            lines.append("Aucun changement : le référentiel était déjà chargé.")
        if self.dry_run:
            lines.append("Simulation (--dry-run) : rien n'a été enregistré.")
        return lines


def load_reference_data(directory: str | Path | None = None, *, dry_run: bool = False) -> ReferenceDataResult:
    """Load the real reference data shipped with JUMO (fixtures/README.md): communes, disciplines,
    collèges (geolocation file), lycées (IPS file, approximate positions), then zones de remplacement
    if a zones file exists (none is published). All in one transaction; idempotent."""
    directory = Path(directory or settings.JUMO_REFERENCE_DATA_DIR)
    outcome = ReferenceDataResult(directory=directory, dry_run=dry_run)
    steps = [
        (REFERENCE_FILES["communes"], import_communes),
        (REFERENCE_FILES["disciplines"], import_disciplines),
        (REFERENCE_FILES["colleges"], import_etablissements),
        (REFERENCE_FILES["lycees"], import_etablissements),
    ]
    zones_path = directory / REFERENCE_FILES["zones"]
    outcome.zones_published = zones_path.exists()
    if outcome.zones_published:
        steps.append((REFERENCE_FILES["zones"], import_zones))
    with transaction.atomic():
        for name, function in steps:
            path = directory / name
            try:
                result = function(read_file(path))
            except ImportFileError as exc:
                raise ImportFileError(
                    [LineError(None, f"Fichier « {path} » rejeté."), *exc.errors],
                    encoding=exc.encoding,
                    delimiter=exc.delimiter,
                ) from None
            result.file_name = name
            outcome.results.append(result)
        if dry_run:
            transaction.set_rollback(True)
    return outcome
