"""Settings of bench_load.py's server and worker: bench_settings, with the broker's keys under a
prefix of their own on the shared Redis (nothing else's keys are touched)."""

from bench_settings import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": "jumo_prod_bench_load:"}
