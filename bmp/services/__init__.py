"""The nightly BMP refresh (FORMATS.md "BMP refresh"; the rules in docs/ARCHITECTURE.md).

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

The steps, one module each: refresh (the entry points and the run's record), validation,
reconciliation (the plan, what a dry run shows, the withdrawal safety), writers (the
PostgreSQL and the portable writes), results and wording (the summary in French).
"""

from establishments.csvfiles import sha256_of

from .refresh import refresh_bmps, refresh_bmps_from_path
from .results import DETAIL_LIMIT, BMPChange, Progress, RefreshResult

__all__ = [
    "DETAIL_LIMIT",
    "BMPChange",
    "Progress",
    "RefreshResult",
    "refresh_bmps",
    "refresh_bmps_from_path",
    "sha256_of",
]
