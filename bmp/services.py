"""The nightly BMP refresh (DOMAIN.md "The nightly refresh", FORMATS.md "BMP refresh").

The file is a full snapshot of the campaign's BMPs. It is validated whole before anything
is written; then one transaction reconciles the database with it (added, updated,
withdrawn, restored), announces the changes with `bmps_refreshed`, and every run, even a
rejected one, is recorded as an `ImportRun`.

It has to handle 150,000 lines in a few seconds (bench/bench_refresh.py): reference maps and
the campaign's current BMPs are loaded with one query each as plain tuples, the difference is
computed in Python, and the writes are set-based (COPY and UPDATE … FROM unnest on
PostgreSQL, bulk_create / bulk_update elsewhere), so the number of queries does not grow with
the file. A campaign's first import (tens of thousands of new rows) is loaded in bulk: foreign
keys and indexes are re-created after the COPY rather than checked row by row.
"""

import contextlib
import datetime
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from establishments.csvfiles import DELIMITER_LABELS, ImportFileError, LineError, parse_decimal, read_csv, sha256_of
from establishments.models import Discipline, Etablissement
from establishments.uai import normalize_uai, uai_error

from .enums import StatutImport
from .models import BMP, Campagne, ImportRun
from .signals import bmps_refreshed

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = {
    "identifiant": "identifiant",
    "uai": "uai",
    "discipline": "discipline",
    "heures": "heures",
}
OPTIONAL_COLUMNS = {"libellediscipline": "libelle_discipline"}

MAX_HOURS = Decimal(36)
IDENTIFIANT_MAX_LENGTH = BMP._meta.get_field("identifiant").max_length
DISCIPLINE_CODE_MAX_LENGTH = Discipline._meta.get_field("code").max_length
DISCIPLINE_LABEL_MAX_LENGTH = Discipline._meta.get_field("libelle").max_length

# Rows per bulk statement on databases without COPY (SQLite's parameter limit).
ORM_BATCH_SIZE = 500
# From this many new rows on, PostgreSQL loads them in bulk (_PostgresWriter.drop_checks).
BULK_LOAD_MIN_ROWS = 50_000
# How often validation reports progress.
PROGRESS_EVERY = 10_000
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
                f"Fichier « {self.fichier} » rejeté ({campagne}) : {_plural(len(self.errors), 'erreur')}, "
                "rien n'a été modifié."
            )
        else:
            lines.append(f"Échec de l'actualisation ({campagne}, fichier « {self.fichier} ») : rien n'a été modifié.")
        if self.encoding or self.delimiter:
            delimiter = DELIMITER_LABELS.get(self.delimiter, self.delimiter or "?")
            lines.append(f"Encodage détecté : {self.encoding or '?'} ; séparateur : {delimiter}.")
        if self.lignes:
            lines.append(f"Lignes lues : {_number(self.lignes)}.")
        if self.planned:
            if self.ok and not self.changed_anything:
                lines.append(f"Aucun changement : les {_number(self.inchanges)} BMP du fichier sont déjà à jour.")
            else:
                prefix = "" if self.statut == StatutImport.APPLIQUE else "Changements prévus : "
                counts = (
                    f"ajoutés : {_number(self.ajoutes)} ; modifiés : {_number(self.modifies)} ; "
                    f"retirés : {_number(self.retires)} ; restaurés : {_number(self.restaures)} ; "
                    f"inchangés : {_number(self.inchanges)}."
                )
                lines.append(prefix + (counts[:1].upper() + counts[1:] if not prefix else counts))
                if self.remplaces:
                    lines.append(
                        f"Parmi les modifiés, {_number(self.remplaces)} changement(s) d'établissement ou de "
                        "discipline : l'ancien BMP est retiré et remplacé par un nouveau."
                    )
        if self.disciplines_creees:
            created = ", ".join(f"{d['code']} ({d['libelle']})" for d in self.disciplines_creees)
            label = "Disciplines créées" if self.statut == StatutImport.APPLIQUE else "Disciplines à créer"
            lines.append(f"{label} : {created}.")
        if self.statut == StatutImport.APPLIQUE:
            lines.append(_touched_line(self.touched))
        seconds = f"{self.duration.total_seconds():.1f}".replace(".", ",")
        lines.append(f"Durée : {seconds} s.")
        return lines

    def error_lines(self) -> list[str]:
        return [str(error) for error in self.errors]


def refresh_bmps(
    campagne: Campagne,
    data: bytes,
    *,
    filename: str,
    dry_run: bool = False,
    force: bool = False,
    started_by: str = "commande",
    user=None,
    progress: Progress | None = None,
) -> RefreshResult:
    """Reconcile the campaign's BMPs with a full snapshot file (FORMATS.md "BMP refresh").

    Rules: the file is validated whole first (any invalid line → nothing written, every error
    returned); a new identifiant is added; other hours → updated; other school or discipline →
    the old BMP is withdrawn and replaced by a new one with the same identifiant (the pairing
    no longer holds); an active BMP absent from the file is withdrawn (kept, inactive); a
    withdrawn BMP present again is restored with the file's hours (one that comes back in
    another school or discipline is added, its old record pointing to the new one). A file
    withdrawing more than JUMO_REFRESH_MAX_WITHDRAWAL_RATIO of the active BMPs is refused
    unless `force`. When applied, `bmps_refreshed` is sent inside the transaction. Every run
    is recorded as an ImportRun, a rejected one outside the rolled-back transaction.
    """
    with _gc_paused():
        return _refresh(campagne, data, filename, dry_run, force, started_by, user, progress)


@contextlib.contextmanager
def _gc_paused():
    """The file makes hundreds of thousands of small objects: automatic collections would keep
    walking them all and double the run's time. Collection resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _refresh(campagne, data, filename, dry_run, force, started_by, user, progress) -> RefreshResult:
    started = time.monotonic()
    debut = timezone.now()
    result = RefreshResult(campagne=campagne, fichier=filename, dry_run=dry_run, force=force, sha256=sha256_of(data))
    run_fields = {"lance_par": started_by, "utilisateur": user, "debut": debut}
    try:
        rows, result.disciplines_creees = _read_and_validate(data, result, progress)
        with transaction.atomic():
            if not dry_run:
                # Two refreshes of one campaign never interleave.
                Campagne.objects.select_for_update().filter(pk=campagne.pk).first()
            plan = _plan(campagne, rows, result)
            if dry_run:
                result.details = _describe(plan)
            _check_withdrawal_ratio(campagne, plan, result, force)
            if dry_run:
                result.statut = StatutImport.A_BLANC
            else:
                _apply(campagne, plan, result, progress)
                result.statut = StatutImport.APPLIQUE
                result.touched = {"demandes": [], "jumelages": []}
                bmps_refreshed.send(
                    sender=BMP,
                    campagne=campagne,
                    changed=plan.changed_ids,
                    withdrawn=plan.withdrawn_ids + [old_id for old_id, _row in plan.superseded],
                    restored=[bmp_id for bmp_id, _hours in plan.restored],
                    touched=result.touched,
                )
            result.duration = datetime.timedelta(seconds=time.monotonic() - started)
            result.run = _record(result, **run_fields)
    except ImportFileError as exc:
        result.statut = StatutImport.REJETE
        result.errors = list(exc.errors)
        result.encoding = result.encoding or exc.encoding
        result.delimiter = result.delimiter or exc.delimiter
        result.touched = {}
        result.duration = datetime.timedelta(seconds=time.monotonic() - started)
        result.run = _record(result, **run_fields)
        return result
    except Exception as exc:
        result.statut = StatutImport.ECHEC
        result.errors = [LineError(None, f"Erreur inattendue pendant l'actualisation : {exc}")]
        result.touched = {}
        result.duration = datetime.timedelta(seconds=time.monotonic() - started)
        result.run = _record(result, **run_fields)
        raise
    # The commit (and its deferred foreign-key checks) belongs to the run's duration.
    result.duration = datetime.timedelta(seconds=time.monotonic() - started)
    ImportRun.objects.filter(pk=result.run.pk).update(duree=result.duration)
    result.run.duree = result.duration
    return result


def refresh_bmps_from_path(
    campagne: Campagne,
    path: str | Path,
    *,
    dry_run: bool = False,
    force: bool = False,
    started_by: str = "commande",
    user=None,
    progress: Progress | None = None,
) -> RefreshResult:
    """refresh_bmps on a file on disk; a missing or unreadable file is a failed run (statut « échec »),
    recorded like any other run, never an exception."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        reason = "introuvable" if isinstance(exc, FileNotFoundError) else f"illisible ({exc.strerror})"
        message = f"Le fichier d'actualisation des BMP « {path} » est {reason} : rien n'a été modifié."
        result = RefreshResult(
            campagne=campagne,
            fichier=str(path),
            statut=StatutImport.ECHEC,
            dry_run=dry_run,
            force=force,
            errors=[LineError(None, message)],
        )
        result.run = _record(result, lance_par=started_by, utilisateur=user, debut=timezone.now())
        return result
    return refresh_bmps(
        campagne,
        data,
        filename=str(path),
        dry_run=dry_run,
        force=force,
        started_by=started_by,
        user=user,
        progress=progress,
    )


# --- Validation ---------------------------------------------------------------------------


# A valid line: (identifiant, etablissement id, discipline code, hours). Plain tuples: 150,000 of them.
Row = tuple[str, int, str, Decimal]


def _read_and_validate(data: bytes, result: RefreshResult, progress: Progress | None) -> tuple[list[Row], list[dict]]:
    """Every check of FORMATS.md "BMP refresh", on the whole file; raises ImportFileError with every error."""
    csv_file = read_csv(data, REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
    result.encoding, result.delimiter = csv_file.encoding, csv_file.delimiter
    result.lignes = total = len(csv_file.rows)

    schools = dict(Etablissement.objects.order_by().values_list("uai", "id"))
    disciplines = dict(Discipline.objects.order_by().values_list("code", "id"))
    i_identifiant = csv_file.columns["identifiant"]
    i_uai = csv_file.columns["uai"]
    i_discipline = csv_file.columns["discipline"]
    i_heures = csv_file.columns["heures"]
    i_libelle = csv_file.columns.get("libellediscipline")

    # An unknown discipline code is created when some line gives its label.
    new_labels: dict[str, str] = {}
    if i_libelle is not None:
        for _line, fields in csv_file.rows:
            code = fields[i_discipline].strip().upper()
            if code not in disciplines and code not in new_labels:
                label = fields[i_libelle].strip()
                if label and code:
                    new_labels[code] = label

    # Each distinct UAI, code and hours value is checked once (11,000 schools, 150,000 lines).
    uai_checked: dict[str, tuple[int | None, str | None]] = {}
    code_checked: dict[str, str | None] = {}
    hours_checked: dict[str, tuple[Decimal | None, str | None]] = {}
    first_line: dict[str, int] = {}
    rows: list[Row] = []
    errors: list[LineError] = []
    for done, (line, fields) in enumerate(csv_file.rows, start=1):
        if progress and not done % PROGRESS_EVERY:
            progress("validation", done, total)
        identifiant = fields[i_identifiant].strip()
        raw_uai = fields[i_uai]
        code = fields[i_discipline].strip().upper()
        raw_hours = fields[i_heures].strip()

        first = first_line.setdefault(identifiant, line)
        checked_uai = uai_checked.get(raw_uai)
        if checked_uai is None:
            checked_uai = uai_checked[raw_uai] = _check_uai(raw_uai, schools)
        if code in code_checked:
            code_message = code_checked[code]
        else:
            code_message = code_checked[code] = _check_discipline(code, disciplines, new_labels)
        checked_hours = hours_checked.get(raw_hours)
        if checked_hours is None:
            checked_hours = hours_checked[raw_hours] = _check_hours(raw_hours)

        if (
            first == line
            and identifiant
            and len(identifiant) <= IDENTIFIANT_MAX_LENGTH
            and checked_uai[1] is None
            and code_message is None
            and checked_hours[1] is None
        ):
            if not errors:
                rows.append((identifiant, checked_uai[0], code, checked_hours[0]))
            continue

        if not identifiant:
            errors.append(LineError(line, "L'identifiant est vide.", "identifiant", ""))
        elif first != line:
            message = f"Identifiant en double : il figure déjà ligne {first}."
            errors.append(LineError(line, message, "identifiant", identifiant))
        elif len(identifiant) > IDENTIFIANT_MAX_LENGTH:
            message = f"L'identifiant dépasse {IDENTIFIANT_MAX_LENGTH} caractères."
            errors.append(LineError(line, message, "identifiant", identifiant))
        if checked_uai[1]:
            errors.append(LineError(line, checked_uai[1], "uai", raw_uai.strip()))
        if code_message:
            errors.append(LineError(line, code_message, "discipline", fields[i_discipline].strip()))
        if checked_hours[1]:
            errors.append(LineError(line, checked_hours[1], "heures", raw_hours))
    if progress:
        progress("validation", total, total)
    if errors:
        raise ImportFileError(errors, encoding=csv_file.encoding, delimiter=csv_file.delimiter)
    created = [{"code": code, "libelle": label} for code, label in sorted(new_labels.items())]
    return rows, created


def _check_uai(raw: str, schools: dict[str, int]) -> tuple[int | None, str | None]:
    """A well-formed UAI with the right key letter (DOMAIN.md "Identifiers"), of a known school."""
    uai = normalize_uai(raw)
    message = uai_error(uai)
    if message:
        return None, message
    school_id = schools.get(uai)
    if school_id is None:
        return None, f"Aucun établissement du référentiel ne porte l'UAI « {uai} »."
    return school_id, None


def _check_discipline(code: str, disciplines: dict[str, int], new_labels: dict[str, str]) -> str | None:
    """A known discipline code, or an unknown one whose label the file gives (it will be created)."""
    if not code:
        return "Le code discipline est vide."
    if code in disciplines:
        return None
    if code not in new_labels:
        return (
            f"Discipline « {code} » inconnue : corrigez le code, ou indiquez son libellé dans la "
            "colonne « libelle_discipline » pour la créer."
        )
    if len(code) > DISCIPLINE_CODE_MAX_LENGTH:
        return f"Le code discipline dépasse {DISCIPLINE_CODE_MAX_LENGTH} caractères."
    if len(new_labels[code]) > DISCIPLINE_LABEL_MAX_LENGTH:
        return f"Le libellé de la discipline « {code} » dépasse {DISCIPLINE_LABEL_MAX_LENGTH} caractères."
    return None


def _check_hours(raw: str) -> tuple[Decimal | None, str | None]:
    """Weekly hours of a BMP: a decimal, > 0, ≤ 36, at most two decimals."""
    if not raw:
        return None, "Les heures sont vides."
    try:
        hours = parse_decimal(raw, max_places=2)
    except ValueError as exc:
        return None, f"Heures invalides : la valeur {exc}."
    if hours <= 0:
        return None, "Les heures doivent être strictement positives."
    if hours > MAX_HOURS:
        return None, f"Les heures d'un BMP ne peuvent pas dépasser {MAX_HOURS} h par semaine."
    return hours, None


# --- Reconciliation ----------------------------------------------------------------------


@dataclass
class _Plan:
    added: list[Row] = field(default_factory=list)
    changed: list[tuple[int, Decimal]] = field(default_factory=list)  # (id, new hours)
    restored: list[tuple[int, Decimal]] = field(default_factory=list)  # (id, the file's hours)
    superseded: list[tuple[int, Row]] = field(default_factory=list)  # (old id, its replacement)
    replaced_ids: set[int] = field(default_factory=set)  # the superseded whose old BMP was active
    withdrawn_ids: list[int] = field(default_factory=list)
    active_before: int = 0

    @property
    def changed_ids(self) -> list[int]:
        return [bmp_id for bmp_id, _hours in self.changed]


def _plan(campagne: Campagne, rows: list[Row], result: RefreshResult) -> _Plan:
    """The difference between the file and the campaign's current BMPs (DOMAIN.md "The nightly refresh")."""
    current = (
        BMP.objects.filter(campagne=campagne, remplace_par__isnull=True)
        .order_by()  # the model's ordering joins two tables and sorts: not wanted here
        .values_list("identifiant", "id", "etablissement_id", "discipline_id", "heures", "actif")
    )
    existing = {identifiant: rest for identifiant, *rest in current}
    disciplines = dict(Discipline.objects.order_by().values_list("code", "id"))
    plan = _Plan()
    unchanged = replaced_active = 0
    for row in rows:
        identifiant, school_id, code, hours = row
        old = existing.pop(identifiant, None)
        if old is None:
            plan.added.append(row)
            continue
        bmp_id, old_school_id, old_discipline_id, old_hours, actif = old
        if old_school_id != school_id or old_discipline_id != disciplines.get(code):
            plan.superseded.append((bmp_id, row))
            if actif:
                replaced_active += 1
                plan.replaced_ids.add(bmp_id)
        elif not actif:
            plan.restored.append((bmp_id, hours))
        elif old_hours != hours:
            plan.changed.append((bmp_id, hours))
        else:
            unchanged += 1
    plan.withdrawn_ids = [old[0] for old in existing.values() if old[4]]
    plan.active_before = unchanged + len(plan.changed) + replaced_active + len(plan.withdrawn_ids)
    # A change of school or discipline counts as an update (FORMATS.md); a withdrawn BMP that
    # comes back elsewhere counts as added (its old record stays withdrawn).
    result.ajoutes = len(plan.added) + len(plan.superseded) - replaced_active
    result.modifies = len(plan.changed) + replaced_active
    result.remplaces = replaced_active
    result.retires = len(plan.withdrawn_ids)
    result.restaures = len(plan.restored)
    result.inchanges = unchanged
    result.planned = True
    return plan


def _describe(plan: _Plan, limit: int = DETAIL_LIMIT) -> dict[str, list[BMPChange]]:
    """What a dry run shows: the first `limit` BMPs of each kind of change, counted as in _plan (a
    change of school or discipline of an active BMP is a change, of a withdrawn one an addition).
    Two queries, whatever the file's size."""
    added: list[tuple[int | None, Row]] = [(None, row) for row in plan.added[:limit]]
    replaced: list[tuple[int, Row]] = []
    for old_id, row in plan.superseded:
        if len(added) >= limit and len(replaced) >= limit:
            break
        if old_id in plan.replaced_ids:
            if len(replaced) < limit:
                replaced.append((old_id, row))
        elif len(added) < limit:
            added.append((old_id, row))
    changed = plan.changed[: max(0, limit - len(replaced))]
    restored = plan.restored[:limit]
    withdrawn = plan.withdrawn_ids[:limit]

    old_ids = [old_id for old_id, _row in added + replaced if old_id is not None]
    old_ids += [bmp_id for bmp_id, _hours in changed + restored] + withdrawn
    old = {
        bmp_id: rest
        for bmp_id, *rest in BMP.objects.filter(pk__in=old_ids)
        .order_by()
        .values_list("pk", "identifiant", "etablissement__uai", "etablissement__nom", "discipline__code", "heures")
    }
    school_ids = {row[1] for _old_id, row in added + replaced}
    schools = {
        pk: (uai, nom)
        for pk, uai, nom in Etablissement.objects.filter(pk__in=school_ids).order_by().values_list("pk", "uai", "nom")
    }

    def from_file(old_id: int | None, row: Row) -> BMPChange:
        identifiant, school_id, code, hours = row
        uai, nom = schools[school_id]
        before = old.get(old_id)
        return BMPChange(
            identifiant,
            uai,
            nom,
            code,
            hours,
            anciennes_heures=before[4] if before else None,
            avant=f"{before[1]}, {before[3]}" if before else "",
        )

    def from_database(bmp_id: int, hours: Decimal | None) -> BMPChange:
        identifiant, uai, nom, code, old_hours = old[bmp_id]
        return BMPChange(identifiant, uai, nom, code, hours, anciennes_heures=old_hours)

    def by_identifiant(changes: list[BMPChange]) -> list[BMPChange]:
        return sorted(changes, key=lambda change: change.identifiant)

    return {
        "ajoutes": [from_file(old_id, row) for old_id, row in added],
        "modifies": by_identifiant(
            [from_database(bmp_id, hours) for bmp_id, hours in changed]
            + [from_file(old_id, row) for old_id, row in replaced]
        ),
        "retires": by_identifiant([from_database(bmp_id, None) for bmp_id in withdrawn]),
        "restaures": by_identifiant([from_database(bmp_id, hours) for bmp_id, hours in restored]),
    }


def _check_withdrawal_ratio(campagne: Campagne, plan: _Plan, result: RefreshResult, force: bool) -> None:
    """Safety (FORMATS.md): refuse a file withdrawing more than the allowed share of active BMPs, unless forced."""
    ratio = settings.JUMO_REFRESH_MAX_WITHDRAWAL_RATIO
    withdrawn, active = len(plan.withdrawn_ids), plan.active_before
    if force or not active or withdrawn <= ratio * active:
        return
    raise ImportFileError(
        [
            LineError(
                None,
                f"Ce fichier retirerait {_number(withdrawn)} des {_number(active)} BMP actifs de la campagne "
                f"{campagne.annee} ({_percent(withdrawn / active)}), au-delà du seuil de {_percent(ratio)} : "
                "il est refusé, rien n'a été modifié. Vérifiez que l'export est complet (un fichier tronqué "
                "viderait la campagne), ou forcez l'import (option --force de la commande import_bmp, ou case "
                "« Forcer » du formulaire « Actualiser les BMP » de l'administration).",
            )
        ],
        encoding=result.encoding,
        delimiter=result.delimiter,
    )


def _apply(campagne: Campagne, plan: _Plan, result: RefreshResult, progress: Progress | None) -> None:
    """Write the plan: set-based statements, their number independent of the file's size."""
    now = timezone.now()
    if result.disciplines_creees:
        Discipline.objects.bulk_create(
            [Discipline(code=d["code"], libelle=d["libelle"]) for d in result.disciplines_creees]
        )
    disciplines = dict(Discipline.objects.values_list("code", "id"))
    _writer_class()(campagne, disciplines, now, progress, plan).write()


def _writer_class():
    return _PostgresWriter if connection.vendor == "postgresql" else _OrmWriter


class _OrmWriter:
    """Portable writes (SQLite, the development default): bulk_create / update() in batches."""

    def __init__(self, campagne, disciplines, now, progress, plan: _Plan):
        self.campagne, self.disciplines, self.now, self.progress, self.plan = (
            campagne,
            disciplines,
            now,
            progress,
            plan,
        )
        self.total = (
            len(plan.added) + len(plan.changed) + len(plan.restored) + len(plan.superseded) + len(plan.withdrawn_ids)
        )
        self.done = 0

    def step(self, count: int) -> None:
        self.done += count
        if self.progress:
            self.progress("écriture", self.done, self.total)

    def new_bmp(self, row: Row) -> BMP:
        identifiant, school_id, code, hours = row
        return BMP(
            campagne=self.campagne,
            etablissement_id=school_id,
            discipline_id=self.disciplines[code],
            heures=hours,
            identifiant=identifiant,
            actif=True,
            cree_le=self.now,
            modifie_le=self.now,
        )

    def write(self) -> None:
        plan, now = self.plan, self.now
        for batch in _batches(plan.withdrawn_ids, ORM_BATCH_SIZE):
            BMP.objects.filter(id__in=batch).update(actif=False, retire_le=now, modifie_le=now)
            self.step(len(batch))
        for batch in _batches(plan.superseded, ORM_BATCH_SIZE):
            old_ids = [old_id for old_id, _row in batch]
            # Out of the unique index first (pointing to itself), then to its replacement.
            BMP.objects.filter(id__in=old_ids).update(
                actif=False, remplace_par=F("id"), retire_le=Coalesce("retire_le", now), modifie_le=now
            )
            new = BMP.objects.bulk_create([self.new_bmp(row) for _old_id, row in batch])
            BMP.objects.bulk_update(
                [BMP(id=old_id, remplace_par_id=bmp.pk) for old_id, bmp in zip(old_ids, new, strict=True)],
                ["remplace_par"],
            )
            self.step(len(batch))
        for batch in _batches(plan.added, ORM_BATCH_SIZE):
            BMP.objects.bulk_create([self.new_bmp(row) for row in batch])
            self.step(len(batch))
        for batch in _batches(plan.changed, ORM_BATCH_SIZE):
            BMP.objects.bulk_update([BMP(id=i, heures=h, modifie_le=now) for i, h in batch], ["heures", "modifie_le"])
            self.step(len(batch))
        for batch in _batches(plan.restored, ORM_BATCH_SIZE):
            BMP.objects.bulk_update(
                [BMP(id=i, heures=h, actif=True, retire_le=None, modifie_le=now) for i, h in batch],
                ["heures", "actif", "retire_le", "modifie_le"],
            )
            self.step(len(batch))


class _PostgresWriter(_OrmWriter):
    """PostgreSQL: new rows by COPY, updates as one UPDATE … FROM unnest(arrays) each."""

    COPY_CHUNK = 10_000

    def write(self) -> None:
        plan, now = self.plan, self.now
        table = connection.ops.quote_name(BMP._meta.db_table)
        inserted = len(plan.added) + len(plan.superseded)
        with connection.cursor() as cursor:
            bulk = inserted >= BULK_LOAD_MIN_ROWS and self.drop_checks(cursor, inserted)
            if plan.withdrawn_ids:
                cursor.execute(
                    f"UPDATE {table} SET actif = false, retire_le = %s, modifie_le = %s WHERE id = ANY(%s)",
                    [now, now, plan.withdrawn_ids],
                )
                self.step(len(plan.withdrawn_ids))
            new_ids: list[int] = []
            if plan.superseded:
                # The replacements' ids are taken first, so that each old row can point to its
                # replacement before the latter exists (foreign keys are checked at commit).
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [BMP._meta.db_table, len(plan.superseded)],
                )
                new_ids = [row[0] for row in cursor.fetchall()]
            # The old rows leave the unique index (remplace_par set) before their replacements arrive.
            self.supersede(cursor, table, new_ids)
            if inserted:
                self.copy(cursor, table, new_ids)
            if plan.changed:
                cursor.execute(
                    f"UPDATE {table} AS b SET heures = v.heures, modifie_le = %s "
                    "FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, heures) WHERE b.id = v.id",
                    [now, [i for i, _h in plan.changed], [h for _i, h in plan.changed]],
                )
                self.step(len(plan.changed))
            if plan.restored:
                cursor.execute(
                    f"UPDATE {table} AS b SET actif = true, retire_le = NULL, heures = v.heures, modifie_le = %s "
                    "FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, heures) WHERE b.id = v.id",
                    [now, [i for i, _h in plan.restored], [h for _i, h in plan.restored]],
                )
                self.step(len(plan.restored))
            if bulk:
                self.restore_checks(cursor)

    def supersede(self, cursor, table: str, new_ids: list[int]) -> None:
        if not self.plan.superseded:
            return
        cursor.execute(
            f"UPDATE {table} AS b SET actif = false, retire_le = COALESCE(b.retire_le, %s), "
            "remplace_par_id = v.new_id, modifie_le = %s "
            "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, new_id) WHERE b.id = v.id",
            [self.now, self.now, [old_id for old_id, _row in self.plan.superseded], new_ids],
        )

    def drop_checks(self, cursor, inserted: int) -> bool:
        """For a large insert (a campaign's first import): drop the table's foreign keys and, when
        the insert at least doubles the table, its indexes, so that restore_checks re-creates them
        identical (same names, same definitions) and checks them in one pass each instead of once
        per row, as PostgreSQL's manual advises for populating a table. Inside the refresh's
        transaction, the table locked meanwhile. False (nothing dropped) without the rights to
        alter the table or with constraint checks pending: the rows are then inserted plainly."""
        db_table = BMP._meta.db_table
        quote = connection.ops.quote_name
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [db_table],
        )
        self.foreign_keys = cursor.fetchall()
        # An index rebuild costs as much as the rows already there. Indexes backing a
        # constraint (the primary key) stay.
        self.indexes = []
        if inserted >= self.estimated_rows(cursor):
            cursor.execute(
                "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY c.relname",
                [db_table],
            )
            self.indexes = cursor.fetchall()
        try:
            with transaction.atomic():
                if self.foreign_keys:
                    drops = ", ".join(f"DROP CONSTRAINT {quote(name)}" for name, _definition in self.foreign_keys)
                    cursor.execute(f"ALTER TABLE {quote(db_table)} {drops}")
                if self.indexes:
                    cursor.execute("DROP INDEX " + ", ".join(quote(name) for name, _definition in self.indexes))
        except DatabaseError as exc:
            logger.info("Chargement en masse impossible (%s) : insertion avec contrôles ligne à ligne.", exc)
            return False
        return True

    @staticmethod
    def estimated_rows(cursor) -> float:
        cursor.execute("SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", [BMP._meta.db_table])
        return cursor.fetchone()[0]

    def restore_checks(self, cursor) -> None:
        quote = connection.ops.quote_name
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in self.indexes:
            cursor.execute(definition)
        if self.foreign_keys:
            adds = ", ".join(f"ADD CONSTRAINT {quote(name)} {definition}" for name, definition in self.foreign_keys)
            cursor.execute(f"ALTER TABLE {quote(BMP._meta.db_table)} {adds}")

    def copy(self, cursor, table: str, superseding_ids: list[int]) -> None:
        """COPY the new rows in text format, built here: much faster than one dump per value."""
        campagne_id = str(self.campagne.pk)
        stamp = self.now.isoformat()
        disciplines = {code: str(pk) for code, pk in self.disciplines.items()}
        columns = "campagne_id, etablissement_id, discipline_id, heures, identifiant, actif, cree_le, modifie_le"
        head = f"{campagne_id}\t"
        tail = f"\tt\t{stamp}\t{stamp}\n"
        psycopg_cursor = cursor.cursor
        if self.plan.superseded:
            with psycopg_cursor.copy(f"COPY {table} (id, {columns}) FROM STDIN") as copy:
                copy.write(
                    "".join(
                        f"{new_id}\t{head}{school_id}\t{disciplines[code]}\t{hours}\t{_copy_text(identifiant)}{tail}"
                        for new_id, (_old_id, (identifiant, school_id, code, hours)) in zip(
                            superseding_ids, self.plan.superseded, strict=True
                        )
                    )
                )
            self.step(len(self.plan.superseded))
        if self.plan.added:
            with psycopg_cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for batch in _batches(self.plan.added, self.COPY_CHUNK):
                    copy.write(
                        "".join(
                            f"{head}{school_id}\t{disciplines[code]}\t{hours}\t{_copy_text(identifiant)}{tail}"
                            for identifiant, school_id, code, hours in batch
                        )
                    )
                    self.step(len(batch))


def _copy_text(value: str) -> str:
    """Escape a value for COPY's text format."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


# --- Recording and wording ---------------------------------------------------------------


def _record(result: RefreshResult, **fields) -> ImportRun:
    """The ImportRun of this run, whatever its outcome."""
    return ImportRun.objects.create(
        campagne=result.campagne,
        fichier=result.fichier[:500],
        sha256=result.sha256,
        encodage=result.encoding,
        separateur=result.delimiter,
        dry_run=result.dry_run,
        force=result.force,
        statut=result.statut,
        lignes=result.lignes,
        ajoutes=result.ajoutes,
        modifies=result.modifies,
        retires=result.retires,
        restaures=result.restaures,
        inchanges=result.inchanges,
        disciplines_creees=result.disciplines_creees,
        erreurs=[error.as_dict() for error in result.errors],
        touches=result.touched,
        duree=result.duration,
        **fields,
    )


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _number(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def _percent(share: float) -> str:
    return f"{share * 100:.1f}".rstrip("0").rstrip(".").replace(".", ",") + " %"


def _plural(count: int, word: str) -> str:
    return f"{_number(count)} {word}{'s' if count > 1 else ''}"


def _touched_line(touched: dict) -> str:
    demandes = len(touched.get("demandes", []))
    jumelages = len(touched.get("jumelages", []))
    others = [f"{key} : {len(ids)}" for key, ids in touched.items() if key not in ("demandes", "jumelages")]
    line = f"Demandes touchées : {_number(demandes)} ; jumelages touchés : {_number(jumelages)}"
    return line + (" ; " + " ; ".join(others) if others else "") + "."
