import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _mail_domain(settings):
    settings.ACADEMIE_MAIL_DOMAIN = "ac-creteil.fr"


class RealWorker:
    """A real `celery -A jumo worker` process on the Redis test broker, sharing the test database."""

    def __init__(self, broker_url: str, extra_env: dict[str, str]):
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "jumo.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_BROKER_URL": broker_url,
            **extra_env,
        }
        self.log = open(ROOT / "test-output" / "celery-worker.log", "a")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "jumo",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def kill(self):
        self.process.kill()
        self.process.wait()


def wait_until(predicate, timeout: float = 30, interval: float = 0.2):
    """Poll `predicate` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def celery_broker():
    """Route task calls of this process to the real Redis test broker (no eager execution)."""
    import redis

    from jumo.celery import app

    url = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
    if connection.vendor != "postgresql":
        pytest.fail("The Celery tests need PostgreSQL (set DATABASE_URL): a worker cannot share SQLite's test DB.")
    redis.Redis.from_url(url).flushdb()
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=url, task_always_eager=False)
    _reset_connections(app)
    yield url
    app.conf.update(saved)
    _reset_connections(app)


def _reset_connections(app):
    """Forget the broker connections made with the previous configuration, kombu's global
    producer pools included (they would otherwise hand out a closed connection pool)."""
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def celery_worker(celery_broker):
    """Start real workers: `start(**env)` returns a RealWorker; all are stopped at the end."""
    (ROOT / "test-output").mkdir(exist_ok=True)
    workers = []

    def start(**extra_env):
        worker = RealWorker(celery_broker, extra_env)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


# --- The small académie of tests/jumelages/monde.py, shared by the workflow, notification and page tests.


@pytest.fixture
def campagne(db):
    from tests.factories import CampagneFactory

    return CampagneFactory(annee=2024)


@pytest.fixture
def w(campagne):
    """Schools A, B, C, D (collèges 94), E (collège 93), L (lycée 94), their heads, agents and BMPs."""
    from tests.jumelages.monde import build_monde

    return build_monde(campagne)


@pytest.fixture
def at(time_machine):
    """Stop the clock at an instant: at(OUVERTE), at(paris(2024, 6, 26, 23, 59))."""

    def move(instant):
        time_machine.move_to(instant, tick=False)
        return instant

    return move


@pytest.fixture
def ouverte(at):
    """The clock stopped on 20 June 2024 at noon, in the open phase."""
    from tests.jumelages.monde import OUVERTE

    return at(OUVERTE)
