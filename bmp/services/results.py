"""What a refresh did (or would do, on a dry run): its counts, its errors, its French summary."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from establishments.csvfiles import DELIMITER_LABELS, LineError

from ..enums import StatutImport
from ..models import Campagne, ImportRun
from .wording import format_number, plural, touched_line

# How many BMPs of each kind of change a dry run lists (its counts are always complete).
DETAIL_LIMIT = 200

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): stage is "validation" or "écriture"."""


@dataclass(frozen=True)
class BMPChange:
    """One BMP a dry run would add, change, withdraw or restore, as shown before confirming."""

    identifiant: str
    uai: str
    etablissement: str
    discipline: str
    heures: Decimal | None  # the file's hours; None for a withdrawal
    anciennes_heures: Decimal | None = None  # the database's hours; None for an addition
    avant: str = ""  # a change of school or discipline: where the BMP was ("UAI, discipline")


@dataclass
class RefreshResult:
    """What a refresh did (or would do, on a dry run), as printed and stored in its ImportRun."""

    campagne: Campagne | None
    fichier: str
    statut: str = StatutImport.APPLIQUE
    dry_run: bool = False
    force: bool = False
    sha256: str = ""
    encoding: str = ""
    delimiter: str = ""
    lignes: int = 0
    ajoutes: int = 0
    modifies: int = 0
    retires: int = 0
    restaures: int = 0
    inchanges: int = 0
    remplaces: int = 0  # among `modifies`: change of school or discipline (old BMP withdrawn and replaced)
    planned: bool = False  # the file was valid and compared with the database: the counts mean something
    disciplines_creees: list[dict] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    touched: dict = field(default_factory=dict)
    # On a dry run: the first DETAIL_LIMIT BMPs of each kind, keyed "ajoutes", "modifies", "retires", "restaures".
    details: dict[str, list[BMPChange]] = field(default_factory=dict)
    duration: datetime.timedelta = datetime.timedelta(0)
    run: ImportRun | None = None

    @property
    def ok(self) -> bool:
        return self.statut in (StatutImport.APPLIQUE, StatutImport.A_BLANC)

    @property
    def changed_anything(self) -> bool:
        return bool(self.ajoutes or self.modifies or self.retires or self.restaures or self.disciplines_creees)

    def summary_lines(self) -> list[str]:
        """The French summary (FORMATS.md "Summary, printed and stored")."""
        lines = []
        campagne = f"campagne {self.campagne.annee}" if self.campagne else "aucune campagne"
        if self.statut == StatutImport.APPLIQUE:
            lines.append(f"Actualisation des BMP appliquée ({campagne}, fichier « {self.fichier} »).")
        elif self.statut == StatutImport.A_BLANC:
            lines.append(f"Essai à blanc : rien n'a été enregistré ({campagne}, fichier « {self.fichier} »).")
        elif self.statut == StatutImport.REJETE:
            lines.append(
                f"Fichier « {self.fichier} » rejeté ({campagne}) : {plural(len(self.errors), 'erreur')}, "
                "rien n'a été modifié."
            )
        else:
            lines.append(f"Échec de l'actualisation ({campagne}, fichier « {self.fichier} ») : rien n'a été modifié.")
        if self.encoding or self.delimiter:
            delimiter = DELIMITER_LABELS.get(self.delimiter, self.delimiter or "?")
            lines.append(f"Encodage détecté : {self.encoding or '?'} ; séparateur : {delimiter}.")
        if self.lignes:
            lines.append(f"Lignes lues : {format_number(self.lignes)}.")
        if self.planned:
            if self.ok and not self.changed_anything:
                lines.append(f"Aucun changement : les {format_number(self.inchanges)} BMP du fichier sont déjà à jour.")
            else:
                prefix = "" if self.statut == StatutImport.APPLIQUE else "Changements prévus : "
                counts = (
                    f"ajoutés : {format_number(self.ajoutes)} ; modifiés : {format_number(self.modifies)} ; "
                    f"retirés : {format_number(self.retires)} ; restaurés : {format_number(self.restaures)} ; "
                    f"inchangés : {format_number(self.inchanges)}."
                )
                lines.append(prefix + (counts[:1].upper() + counts[1:] if not prefix else counts))
                if self.remplaces:
                    lines.append(
                        f"Parmi les modifiés, {format_number(self.remplaces)} changement(s) d'établissement ou de "
                        "discipline : l'ancien BMP est retiré et remplacé par un nouveau."
                    )
        if self.disciplines_creees:
            created = ", ".join(f"{d['code']} ({d['libelle']})" for d in self.disciplines_creees)
            label = "Disciplines créées" if self.statut == StatutImport.APPLIQUE else "Disciplines à créer"
            lines.append(f"{label} : {created}.")
        if self.statut == StatutImport.APPLIQUE:
            lines.append(touched_line(self.touched))
        seconds = f"{self.duration.total_seconds():.1f}".replace(".", ",")
        lines.append(f"Durée : {seconds} s.")
        return lines

    def error_lines(self) -> list[str]:
        return [str(error) for error in self.errors]
