"""Settings of bench_pages.py's server: the production-like base settings plus a trivial view.

bench_pages.py starts gunicorn with DEBUG=false and persistent connections (CONN_MAX_AGE, as
production should set it: a new PostgreSQL connection costs more than a page's queries).
"""

from jumo.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
