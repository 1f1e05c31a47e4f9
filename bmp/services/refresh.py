"""The refresh's entry points: validate, compare, write, announce, record the run."""

import contextlib
import datetime
import gc
import time
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from establishments.csvfiles import ImportFileError, LineError, sha256_of

from ..enums import StatutImport
from ..models import BMP, Campagne, ImportRun
from ..signals import bmps_refreshed
from .reconciliation import build_plan, check_withdrawal_ratio, describe_plan
from .results import Progress, RefreshResult
from .validation import read_and_validate
from .writers import write_plan


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
        rows, result.disciplines_creees = read_and_validate(data, result, progress)
        with transaction.atomic():
            if not dry_run:
                # Two refreshes of one campaign never interleave.
                Campagne.objects.select_for_update().filter(pk=campagne.pk).first()
            plan = build_plan(campagne, rows, result)
            if dry_run:
                result.details = describe_plan(plan)
            check_withdrawal_ratio(campagne, plan, result, force)
            if dry_run:
                result.statut = StatutImport.A_BLANC
            else:
                write_plan(campagne, plan, result, progress)
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
