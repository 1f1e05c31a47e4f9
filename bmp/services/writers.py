"""Writing the plan: set-based statements whose number does not grow with the file.

PostgreSQL (_PostgresWriter) loads new rows by COPY and updates with UPDATE … FROM unnest;
elsewhere (SQLite, the development default) _OrmWriter uses bulk_create / bulk_update in
batches. _writer_class is the one place that picks between them.
"""

import logging

from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from establishments.models import Discipline

from ..models import BMP, Campagne
from .reconciliation import Plan
from .results import Progress, RefreshResult
from .validation import Row

logger = logging.getLogger(__name__)

# Rows per bulk statement on databases without COPY (SQLite's parameter limit).
ORM_BATCH_SIZE = 500
# From this many new rows on, PostgreSQL loads them in bulk (_PostgresWriter.drop_checks).
BULK_LOAD_MIN_ROWS = 50_000


def write_plan(campagne: Campagne, plan: Plan, result: RefreshResult, progress: Progress | None) -> None:
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

    def __init__(self, campagne, disciplines, now, progress, plan: Plan):
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


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]
