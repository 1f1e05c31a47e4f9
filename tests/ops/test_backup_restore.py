"""The restore drill: bin/backup dumps a database holding a campaign, the database is wiped,
bin/restore brings it back, and the campaign is intact: BMPs, jumelages, requests, history,
outbox, accounts. Run with pg_dump/pg_restore on a scratch database (its name starts with
the test database's), never on the test database itself."""

import os
import subprocess
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from jumelages import services
from tests.factories import CampagneFactory
from tests.jumelages.monde import OUVERTE, build_monde, jumelage_direct, pending

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        subprocess.run(["which", "pg_dump"], capture_output=True).returncode != 0, reason="pg_dump absent"
    ),
]

ROOT = Path(__file__).resolve().parents[2]

# What "the campaign is intact" means: every row of these tables, in full.
TABLES = [
    "bmp_campagne",
    "bmp_bmp",
    "jumelages_jumelage",
    "jumelages_jumelagebmp",
    "jumelages_demande",
    "jumelages_evenement",
    "notifications_notification",
    "establishments_etablissement",
    "establishments_profil",
    "auth_user",
]


def url(name: str) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}"


def snapshot(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn:
        present = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() if table in present else None
            for table in TABLES
        }


def run(command: list[str], dsn: str, **env) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": dsn, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def scratch():
    """A copy of the test database (its template), dropped at the end."""
    name = f"{connection.settings_dict['NAME']}_restore_drill"
    source = connection.settings_dict["NAME"]
    connection.close()  # CREATE DATABASE … TEMPLATE needs the template without connections
    with psycopg.connect(url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    yield url(name)
    with psycopg.connect(url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_dump_wipe_restore_and_the_campaign_is_intact(time_machine, scratch_world, scratch, tmp_path):
    before = snapshot(scratch)
    assert len(before["bmp_campagne"]) == 1 and before["jumelages_jumelage"] and before["jumelages_demande"]
    assert before["notifications_notification"]

    dump = Path(run(["bin/backup"], scratch, JUMO_BACKUP_DIR=str(tmp_path)).stdout.strip())
    assert dump.parent == tmp_path and dump.name.startswith("jumo-") and dump.suffix == ".dump"
    assert (tmp_path / f"{dump.name}.sha256").exists()

    # The disaster: the whole schema is gone.
    with psycopg.connect(scratch, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    assert all(rows is None for rows in snapshot(scratch).values())

    run(["bin/restore", str(dump), "--yes"], scratch)

    assert snapshot(scratch) == before
    # Restoring again over the restored database changes nothing either.
    run(["bin/restore", str(dump), "--yes"], scratch)
    assert snapshot(scratch) == before


def test_a_damaged_dump_is_refused_before_touching_the_database(scratch_world, scratch, tmp_path):
    before = snapshot(scratch)
    dump = Path(run(["bin/backup"], scratch, JUMO_BACKUP_DIR=str(tmp_path)).stdout.strip())
    with dump.open("r+b") as f:
        f.seek(200)
        f.write(b"\x00" * 16)
    result = subprocess.run(
        ["bin/restore", str(dump), "--yes"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": scratch},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    assert "Empreinte SHA-256 incorrecte" in result.stderr
    assert snapshot(scratch) == before


@pytest.fixture
def scratch_world(time_machine):
    """A campaign in the open phase: a jumelage built by a service, requests sent and answered,
    the history and the mails they made."""
    time_machine.move_to(OUVERTE, tick=False)
    w = build_monde(CampagneFactory(annee=2024))
    jumelage_direct(w.bmp_c, w.bmp_d)
    demande = services.send_request(w.head_a, w.bmp_a, w.bmp_b)
    services.accept_request(w.head_b, demande)
    pending(w.bmp_e, w.bmp_l)
    return w
