"""Settings of bench_pages.py's server: the production-like base settings plus a trivial view.

bench_pages.py starts gunicorn with DEBUG=false and CONN_MAX_AGE=60 (persistent connections, as
production should configure them: a new PostgreSQL connection costs more than a page's queries).
"""

from jumo.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
