"""Comparing the valid file with the campaign's current BMPs: what to add, change, withdraw, restore."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from establishments.csvfiles import ImportFileError, LineError
from establishments.models import Discipline, Etablissement

from ..models import BMP, Campagne
from .results import DETAIL_LIMIT, BMPChange, RefreshResult
from .validation import Row
from .wording import format_number, format_percent


@dataclass
class Plan:
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


def build_plan(campagne: Campagne, rows: list[Row], result: RefreshResult) -> Plan:
    """The difference between the file and the campaign's current BMPs: a new identifiant is added,
    other hours are a change, another school or discipline replaces the BMP, an active BMP absent
    from the file is withdrawn (never deleted), a withdrawn one present again is restored."""
    current = (
        BMP.objects.filter(campagne=campagne, remplace_par__isnull=True)
        .order_by()  # the model's ordering joins two tables and sorts: not wanted here
        .values_list("identifiant", "id", "etablissement_id", "discipline_id", "heures", "actif")
    )
    existing = {identifiant: rest for identifiant, *rest in current}
    disciplines = dict(Discipline.objects.order_by().values_list("code", "id"))
    plan = Plan()
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


def describe_plan(plan: Plan, limit: int = DETAIL_LIMIT) -> dict[str, list[BMPChange]]:
    """What a dry run shows: the first `limit` BMPs of each kind of change, counted as in build_plan (a
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


def check_withdrawal_ratio(campagne: Campagne, plan: Plan, result: RefreshResult, force: bool) -> None:
    """Safety (FORMATS.md): refuse a file withdrawing more than the allowed share of active BMPs, unless forced."""
    ratio = settings.JUMO_REFRESH_MAX_WITHDRAWAL_RATIO
    withdrawn, active = len(plan.withdrawn_ids), plan.active_before
    if force or not active or withdrawn <= ratio * active:
        return
    raise ImportFileError(
        [
            LineError(
                None,
                f"Ce fichier retirerait {format_number(withdrawn)} des {format_number(active)} BMP actifs de la "
                f"campagne {campagne.annee} ({format_percent(withdrawn / active)}), au-delà du seuil de "
                f"{format_percent(ratio)} : il est refusé, rien n'a été modifié. Vérifiez que l'export est "
                "complet (un fichier tronqué viderait la campagne), ou forcez l'import (option --force de la "
                "commande import_bmp, ou case « Forcer » du formulaire « Actualiser les BMP » de l'administration).",
            )
        ],
        encoding=result.encoding,
        delimiter=result.delimiter,
    )
