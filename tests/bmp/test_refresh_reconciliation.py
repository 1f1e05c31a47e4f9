"""Reconciling the campaign's BMPs with the snapshot file (the nightly refresh,
FORMATS.md "BMP refresh"): added, updated, withdrawn, restored, unchanged; the 20 % guard; dry
run; the ImportRun record; the bmps_refreshed signal."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bmp import services
from bmp.enums import StatutImport
from bmp.models import BMP, ImportRun
from bmp.services import refresh_bmps, writers
from bmp.signals import bmps_refreshed
from tests.factories import CampagneFactory, EtablissementFactory, UserFactory, valid_uai

from .conftest import bmp_snapshot, make_csv


@pytest.fixture
def signals():
    """Every bmps_refreshed sent during the test; the receiver says it touched one request."""
    received = []

    def receiver(sender, campagne, changed, withdrawn, restored, touched, **kwargs):
        received.append(
            {"campagne": campagne, "changed": changed, "withdrawn": withdrawn, "restored": restored, "touched": touched}
        )
        touched["demandes"].append(42)

    bmps_refreshed.connect(receiver, dispatch_uid="test-refresh-receiver")
    yield received
    bmps_refreshed.disconnect(dispatch_uid="test-refresh-receiver")


def test_new_identifiants_are_added(campagne, schools, disciplines):
    data = make_csv(
        [["BMP-1", schools[0].uai, "L1300", "", "9"], ["BMP-2", schools[1].uai, "L1900", "", "10,25"]],
    )
    result = refresh_bmps(campagne, data, filename="bmp.csv")
    assert (result.statut, result.ajoutes, result.lignes) == (StatutImport.APPLIQUE, 2, 2)
    bmp = BMP.objects.get(identifiant="BMP-2")
    assert (bmp.campagne, bmp.etablissement, bmp.discipline, bmp.heures, bmp.actif) == (
        campagne,
        schools[1],
        disciplines["L1900"],
        Decimal("10.25"),
        True,
    )
    assert bmp.cree_le is not None and bmp.modifie_le is not None
    assert bmp.retire_le is None and bmp.remplace_par is None


def test_each_kind_of_change_is_counted(campagne, schools, existing, signals):
    withdrawn_before = BMP.objects.create(
        campagne=campagne,
        etablissement=schools[3],
        discipline=existing[0].discipline,
        heures=Decimal("3"),
        identifiant="BMP-4",
        actif=False,
        retire_le=timezone.now() - datetime.timedelta(days=2),
    )
    data = make_csv(
        [
            ["BMP-1", schools[0].uai, "L1300", "", "9"],  # unchanged
            ["BMP-2", schools[1].uai, "L0202", "", "7"],  # hours 6,5 → 7
            # BMP-3 is absent: withdrawn
            ["BMP-4", schools[3].uai, "L1300", "", "5"],  # withdrawn before, back: restored with 5 h
            ["BMP-5", schools[4].uai, "L1300", "", "2"],  # new
        ]
    )
    result = refresh_bmps(campagne, data, filename="bmp.csv", force=True)
    assert (result.ajoutes, result.modifies, result.retires, result.restaures, result.inchanges) == (1, 1, 1, 1, 1)

    assert BMP.objects.get(identifiant="BMP-2").heures == Decimal("7")
    withdrawn = BMP.objects.get(pk=existing[2].pk)
    assert withdrawn.actif is False and withdrawn.retire_le is not None and withdrawn.remplace_par is None
    restored = BMP.objects.get(pk=withdrawn_before.pk)
    assert (restored.actif, restored.retire_le, restored.heures) == (True, None, Decimal("5"))
    assert BMP.objects.filter(identifiant="BMP-5", actif=True).exists()
    assert BMP.objects.count() == 5  # nothing deleted

    run = ImportRun.objects.get()
    assert (run.statut, run.ajoutes, run.modifies, run.retires, run.restaures, run.inchanges) == (
        "applique",
        1,
        1,
        1,
        1,
        1,
    )
    assert "Ajoutés : 1 ; modifiés : 1 ; retirés : 1 ; restaurés : 1 ; inchangés : 1." in result.summary_lines()

    (signal,) = signals
    assert signal["campagne"] == campagne
    assert signal["changed"] == [existing[1].pk]
    assert signal["withdrawn"] == [existing[2].pk]
    assert signal["restored"] == [withdrawn_before.pk]


def test_same_file_twice_changes_nothing_the_second_time_and_says_so(campagne, existing, same_file, signals):
    before = bmp_snapshot()
    first = refresh_bmps(campagne, same_file, filename="bmp.csv")
    assert (first.ajoutes, first.modifies, first.retires, first.restaures, first.inchanges) == (0, 0, 0, 0, 3)
    second = refresh_bmps(campagne, same_file, filename="bmp.csv")
    assert (second.ajoutes, second.modifies, second.retires, second.restaures, second.inchanges) == (0, 0, 0, 0, 3)
    assert bmp_snapshot() == before  # not even modifie_le moved
    assert not second.changed_anything
    assert "Aucun changement : les 3 BMP du fichier sont déjà à jour." in second.summary_lines()
    assert [s["changed"] + s["withdrawn"] + s["restored"] for s in signals] == [[], []]


def test_new_file_applied_twice_adds_once(campagne, schools, disciplines):
    data = make_csv([["BMP-1", schools[0].uai, "L1300", "", "9"]])
    refresh_bmps(campagne, data, filename="bmp.csv")
    again = refresh_bmps(campagne, data, filename="bmp.csv")
    assert (again.ajoutes, again.inchanges) == (0, 1)
    assert BMP.objects.count() == 1


def test_change_of_school_withdraws_the_old_bmp_and_creates_a_new_one(campagne, schools, existing, signals):
    data = make_csv(
        [
            ["BMP-1", schools[4].uai, "L1300", "", "9"],  # was in schools[0]
            ["BMP-2", schools[1].uai, "L0202", "", "6,5"],
            ["BMP-3", schools[2].uai, "L1900", "", "10"],
        ]
    )
    result = refresh_bmps(campagne, data, filename="bmp.csv")
    assert (result.ajoutes, result.modifies, result.retires, result.remplaces, result.inchanges) == (0, 1, 0, 1, 2)

    old = BMP.objects.get(pk=existing[0].pk)
    new = BMP.objects.get(identifiant="BMP-1", remplace_par__isnull=True)
    assert new.pk != old.pk
    assert (new.etablissement, new.actif, new.heures) == (schools[4], True, Decimal("9"))
    assert (old.etablissement, old.actif, old.remplace_par) == (schools[0], False, new)
    assert old.retire_le is not None
    assert signals[0]["withdrawn"] == [old.pk]
    assert signals[0]["changed"] == []
    assert any("changement(s) d'établissement ou de discipline" in line for line in result.summary_lines())

    again = refresh_bmps(campagne, data, filename="bmp.csv")
    assert (again.modifies, again.inchanges) == (0, 3)


def test_change_of_discipline_withdraws_the_old_bmp_and_creates_a_new_one(campagne, schools, existing):
    data = make_csv(
        [
            ["BMP-1", schools[0].uai, "L0202", "", "9"],
            ["BMP-2", schools[1].uai, "L0202", "", "6,5"],
            ["BMP-3", schools[2].uai, "L1900", "", "10"],
        ]
    )
    result = refresh_bmps(campagne, data, filename="bmp.csv")
    assert (result.modifies, result.remplaces) == (1, 1)
    old = BMP.objects.get(pk=existing[0].pk)
    assert old.remplace_par.discipline.code == "L0202"
    assert old.actif is False


def test_withdrawn_bmp_back_in_another_school_is_added_and_the_old_one_points_to_it(campagne, schools, existing):
    retired_at = timezone.now() - datetime.timedelta(days=3)
    BMP.objects.filter(pk=existing[0].pk).update(actif=False, retire_le=retired_at)
    data = make_csv(
        [
            ["BMP-1", schools[3].uai, "L1300", "", "9"],
            ["BMP-2", schools[1].uai, "L0202", "", "6,5"],
            ["BMP-3", schools[2].uai, "L1900", "", "10"],
        ]
    )
    result = refresh_bmps(campagne, data, filename="bmp.csv")
    assert (result.ajoutes, result.modifies, result.restaures, result.retires) == (1, 0, 0, 0)
    old = BMP.objects.get(pk=existing[0].pk)
    assert old.retire_le == retired_at  # still withdrawn since then
    assert old.remplace_par.etablissement == schools[3]


def test_superseded_bmps_are_not_compared_again(campagne, schools, existing):
    """Only the current record of an identifiant counts; its old records stay as they are."""
    moved = make_csv(
        [
            ["BMP-1", schools[4].uai, "L1300", "", "9"],
            ["BMP-2", schools[1].uai, "L0202", "", "6,5"],
            ["BMP-3", schools[2].uai, "L1900", "", "10"],
        ]
    )
    refresh_bmps(campagne, moved, filename="bmp.csv")
    back = make_csv(
        [
            ["BMP-1", schools[0].uai, "L1300", "", "9"],
            ["BMP-2", schools[1].uai, "L0202", "", "6,5"],
            ["BMP-3", schools[2].uai, "L1900", "", "10"],
        ]
    )
    result = refresh_bmps(campagne, back, filename="bmp.csv")
    assert (result.modifies, result.remplaces) == (1, 1)
    chain = BMP.objects.filter(identifiant="BMP-1").order_by("pk")
    assert [(b.etablissement_id, b.actif) for b in chain] == [
        (schools[0].pk, False),
        (schools[4].pk, False),
        (schools[0].pk, True),
    ]
    assert chain[0].remplace_par == chain[1] and chain[1].remplace_par == chain[2]


def test_other_campaigns_are_left_alone(campagne, schools, existing, same_file):
    other = CampagneFactory(annee=2025)
    BMP.objects.create(
        campagne=other, etablissement=schools[0], discipline=existing[0].discipline, heures=1, identifiant="BMP-1"
    )
    result = refresh_bmps(other, make_csv([["BMP-9", schools[0].uai, "L1300", "", "2"]]), filename="b", force=True)
    assert (result.ajoutes, result.retires) == (1, 1)
    assert BMP.objects.filter(campagne=campagne, actif=True).count() == 3


# --- The 20 % guard --------------------------------------------------------------------------


def five_bmps(campagne, schools, disciplines):
    for n in range(1, 6):
        BMP.objects.create(
            campagne=campagne,
            etablissement=schools[n - 1],
            discipline=disciplines["L1300"],
            heures=4,
            identifiant=f"BMP-{n}",
        )
    return [["BMP-" + str(n), schools[n - 1].uai, "L1300", "", "4"] for n in range(1, 6)]


def test_file_withdrawing_more_than_20_percent_is_refused_then_accepted_with_force(campagne, schools, disciplines):
    rows = five_bmps(campagne, schools, disciplines)
    truncated = make_csv(rows[:3])  # would withdraw 2 of 5 = 40 %
    before = bmp_snapshot()

    refused = refresh_bmps(campagne, truncated, filename="bmp.csv")
    assert refused.statut == StatutImport.REJETE
    (error,) = refused.errors
    assert error.message.startswith(
        "Ce fichier retirerait 2 des 5 BMP actifs de la campagne 2024 (40 %), au-delà du seuil de 20 % : "
        "il est refusé, rien n'a été modifié."
    )
    assert refused.retires == 2  # what it would have done
    assert "Changements prévus : ajoutés : 0 ; modifiés : 0 ; retirés : 2 ; restaurés : 0 ; inchangés : 3." in (
        refused.summary_lines()
    )
    assert bmp_snapshot() == before
    assert ImportRun.objects.get().statut == "rejete"

    forced = refresh_bmps(campagne, truncated, filename="bmp.csv", force=True)
    assert (forced.statut, forced.retires, forced.inchanges) == (StatutImport.APPLIQUE, 2, 3)
    assert BMP.objects.filter(actif=True).count() == 3
    assert ImportRun.objects.filter(statut="applique", force=True).count() == 1


def test_withdrawing_exactly_20_percent_is_allowed(campagne, schools, disciplines):
    rows = five_bmps(campagne, schools, disciplines)
    result = refresh_bmps(campagne, make_csv(rows[:4]), filename="bmp.csv")
    assert (result.statut, result.retires) == (StatutImport.APPLIQUE, 1)


def test_guard_ratio_comes_from_settings(campagne, schools, disciplines, settings):
    settings.JUMO_REFRESH_MAX_WITHDRAWAL_RATIO = 0.5
    rows = five_bmps(campagne, schools, disciplines)
    assert refresh_bmps(campagne, make_csv(rows[:3]), filename="bmp.csv").statut == StatutImport.APPLIQUE


# --- Dry run -----------------------------------------------------------------------------------


def test_dry_run_writes_nothing_but_the_run_record(campagne, schools, existing, signals):
    before = bmp_snapshot()
    data = make_csv(
        [
            ["BMP-1", schools[0].uai, "L1300", "", "9"],
            ["BMP-2", schools[1].uai, "L0202", "", "8"],
            ["BMP-3", schools[2].uai, "L1900", "", "10"],
            ["BMP-9", schools[3].uai, "L8012", "NOUVELLE DISCIPLINE", "3"],
        ]
    )
    result = refresh_bmps(campagne, data, filename="bmp.csv", dry_run=True)
    assert result.statut == StatutImport.A_BLANC
    assert (result.ajoutes, result.modifies, result.inchanges) == (1, 1, 2)
    assert bmp_snapshot() == before
    assert not signals
    run = ImportRun.objects.get()
    assert (run.statut, run.dry_run, run.ajoutes, run.modifies) == ("a_blanc", True, 1, 1)
    assert not BMP.objects.filter(discipline__code="L8012").exists()
    from establishments.models import Discipline

    assert not Discipline.objects.filter(code="L8012").exists()
    summary = "\n".join(result.summary_lines())
    assert "Essai à blanc : rien n'a été enregistré" in summary
    assert "Disciplines à créer : L8012 (NOUVELLE DISCIPLINE)." in summary


def test_dry_run_reports_the_guard_refusal(campagne, schools, disciplines):
    rows = five_bmps(campagne, schools, disciplines)
    result = refresh_bmps(campagne, make_csv(rows[:2]), filename="bmp.csv", dry_run=True)
    assert result.statut == StatutImport.REJETE
    assert "retirerait 3 des 5 BMP actifs" in result.errors[0].message


# --- The record and the signal ----------------------------------------------------------------


def test_applied_run_is_recorded_with_who_started_it(campagne, existing, same_file):
    user = UserFactory()
    result = refresh_bmps(campagne, same_file, filename="nuit.csv", started_by="admin", user=user)
    run = ImportRun.objects.get()
    assert run == result.run
    assert (run.campagne, run.lance_par, run.utilisateur, run.fichier) == (campagne, "admin", user, "nuit.csv")
    assert (run.encodage, run.separateur, run.lignes, run.inchanges) == ("UTF-8", ";", 3, 3)
    assert run.sha256 == services.sha256_of(same_file)
    assert run.erreurs == []
    assert run.duree == result.duration and run.duree > datetime.timedelta(0)


def test_signal_receivers_touched_objects_are_returned_and_stored(campagne, schools, existing, signals):
    data = make_csv(
        [["BMP-1", schools[0].uai, "L1300", "", "9"], ["BMP-2", schools[1].uai, "L0202", "", "6,5"]],
    )
    result = refresh_bmps(campagne, data, filename="bmp.csv", force=True)
    assert result.touched == {"demandes": [42], "jumelages": []}
    assert ImportRun.objects.get().touches == {"demandes": [42], "jumelages": []}
    assert "Demandes touchées : 1 ; jumelages touchés : 0." in result.summary_lines()


def test_signal_is_not_sent_for_a_rejected_file(campagne, existing, schools, signals):
    refresh_bmps(campagne, make_csv([["BMP-1", schools[0].uai, "L1300", "", "0"]]), filename="bmp.csv")
    assert signals == []


def test_failing_receiver_rolls_everything_back_and_is_recorded(campagne, schools, existing):
    def receiver(**kwargs):
        raise RuntimeError("panne du récepteur")

    before = bmp_snapshot()
    bmps_refreshed.connect(receiver, dispatch_uid="test-failing")
    try:
        with pytest.raises(RuntimeError):
            refresh_bmps(campagne, make_csv([["BMP-9", schools[0].uai, "L1300", "", "1"]]), filename="b", force=True)
    finally:
        bmps_refreshed.disconnect(dispatch_uid="test-failing")
    assert bmp_snapshot() == before
    run = ImportRun.objects.get()
    assert run.statut == "echec"
    assert "panne du récepteur" in run.erreurs[0]["message"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite writes in batches")
def test_number_of_queries_does_not_grow_with_the_file(campagne, disciplines):
    schools = [EtablissementFactory(uai=valid_uai(n)) for n in range(1, 41)]

    def run(target, size, hours):
        data = make_csv([[f"BMP-{n}", schools[n % 40].uai, "L1300", "", hours] for n in range(size)])
        with CaptureQueriesContext(connection) as queries:
            refresh_bmps(target, data, filename="bmp.csv", force=True)
        return len(queries)

    small_insert = run(campagne, 5, "4")
    small_update = run(campagne, 5, "5")
    other = CampagneFactory(annee=2031)
    large_insert = run(other, 300, "4")
    large_update = run(other, 300, "5")
    assert small_insert == large_insert
    assert small_update == large_update
    assert large_insert <= 15


# --- The portable writer (SQLite) and the bulk load (PostgreSQL, a campaign's first import) ---------


def change_everything(campagne, schools, existing):
    """A file with each kind of change; returns the file and a checker of the result."""
    BMP.objects.create(
        campagne=campagne,
        etablissement=schools[3],
        discipline=existing[0].discipline,
        heures=3,
        identifiant="BMP-4",
        actif=False,
        retire_le=timezone.now(),
    )
    data = make_csv(
        [
            ["BMP-1", schools[4].uai, "L1300", "", "9"],  # moved
            ["BMP-2", schools[1].uai, "L0202", "", "7"],  # hours
            ["BMP-4", schools[3].uai, "L1300", "", "5"],  # restored
            ["BMP-5", schools[4].uai, "L1900", "", "2"],  # new
            # BMP-3 withdrawn
        ]
    )

    def check(result):
        assert result.statut == StatutImport.APPLIQUE, result.errors
        assert (result.ajoutes, result.modifies, result.retires, result.restaures, result.remplaces) == (1, 2, 1, 1, 1)
        current = {
            b.identifiant: (b.etablissement_id, b.heures, b.actif)
            for b in BMP.objects.filter(campagne=campagne, remplace_par__isnull=True)
        }
        assert current == {
            "BMP-1": (schools[4].pk, Decimal("9"), True),
            "BMP-2": (schools[1].pk, Decimal("7"), True),
            "BMP-3": (schools[2].pk, Decimal("10"), False),
            "BMP-4": (schools[3].pk, Decimal("5"), True),
            "BMP-5": (schools[4].pk, Decimal("2"), True),
        }
        old = BMP.objects.get(pk=existing[0].pk)
        assert (old.actif, old.remplace_par.etablissement_id) == (False, schools[4].pk)

    return data, check


def test_portable_writer_applies_the_same_rules(campagne, schools, existing, monkeypatch):
    monkeypatch.setattr(writers, "_writer_class", lambda: writers._OrmWriter)
    data, check = change_everything(campagne, schools, existing)
    check(refresh_bmps(campagne, data, filename="bmp.csv", force=True))


def schema_of_bmp_table():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'bmp_bmp'::regclass "
            "UNION ALL SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'bmp_bmp' ORDER BY 1"
        )
        return cursor.fetchall()


def flush_pending_constraint_checks():
    """The rows the fixtures inserted have their foreign-key checks pending until commit, which
    forbids altering the table; a real refresh starts in a fresh transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
@pytest.mark.parametrize("table_rows", [0, 10**9], ids=["indexes-rebuilt", "indexes-kept"])
def test_bulk_load_gives_the_same_result_and_restores_every_constraint_and_index(
    campagne, schools, existing, monkeypatch, table_rows
):
    monkeypatch.setattr(writers, "BULK_LOAD_MIN_ROWS", 1)
    monkeypatch.setattr(writers._PostgresWriter, "estimated_rows", staticmethod(lambda cursor: table_rows))
    used = []
    original = writers._PostgresWriter.restore_checks
    monkeypatch.setattr(
        writers._PostgresWriter,
        "restore_checks",
        lambda self, cursor: used.append((len(self.foreign_keys), len(self.indexes))) or original(self, cursor),
    )
    data, check = change_everything(campagne, schools, existing)
    schema = schema_of_bmp_table()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_index i WHERE i.indrelid = 'bmp_bmp'::regclass "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
        )
        (plain_indexes,) = cursor.fetchone()
    flush_pending_constraint_checks()
    check(refresh_bmps(campagne, data, filename="bmp.csv", force=True))
    (dropped,) = used
    assert plain_indexes >= 6
    # All foreign keys; all indexes but the primary key's when the table is small.
    assert dropped == (4, plain_indexes if table_rows == 0 else 0)
    assert schema_of_bmp_table() == schema
    assert any("FOREIGN KEY (etablissement_id)" in definition for _name, definition in schema)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
def test_bulk_load_refuses_a_duplicate_it_cannot_see_by_rolling_back(campagne, schools, existing, monkeypatch):
    """Re-created constraints are checked: a row breaking one makes the whole refresh fail."""
    monkeypatch.setattr(writers, "BULK_LOAD_MIN_ROWS", 1)
    data = make_csv([["BMP-9", schools[0].uai, "L1300", "", "1"]])
    schema = schema_of_bmp_table()
    before = bmp_snapshot()
    flush_pending_constraint_checks()
    original = writers._PostgresWriter.copy

    def copy_twice(self, cursor, table, superseding_ids):
        original(self, cursor, table, superseding_ids)
        original(self, cursor, table, superseding_ids)

    monkeypatch.setattr(writers._PostgresWriter, "copy", copy_twice)
    with pytest.raises(Exception, match="bmp_unique_identifiant_per_campagne"):
        refresh_bmps(campagne, data, filename="bmp.csv", force=True)
    assert bmp_snapshot() == before
    assert schema_of_bmp_table() == schema
    assert ImportRun.objects.get().statut == "echec"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
def test_bulk_load_falls_back_to_plain_inserts_when_the_table_cannot_be_altered(
    campagne, schools, existing, monkeypatch
):
    monkeypatch.setattr(writers, "BULK_LOAD_MIN_ROWS", 1)
    used = []
    monkeypatch.setattr(writers._PostgresWriter, "restore_checks", lambda self, cursor: used.append(1))
    data, check = change_everything(campagne, schools, existing)
    schema = schema_of_bmp_table()
    # Without the flush, the pending checks forbid ALTER TABLE, as missing rights would.
    check(refresh_bmps(campagne, data, filename="bmp.csv", force=True))
    assert used == []
    assert schema_of_bmp_table() == schema
