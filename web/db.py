"""Prepared statements for the heads' pages (PostgreSQL, psycopg 3).

The pages' queries are small, but several join five to eight tables, and PostgreSQL spent more
time planning them than running them (the partner search's union of rings: 13 ms to plan, 3 ms
to run, on a loaded machine; a jumelage with its members, 10 ms and 0.3 ms). Inside
`prepared_statements()`, the connection binds parameters on the server and psycopg prepares a
statement from its second execution on the connection: with persistent connections
(CONN_MAX_AGE), the plan is made once per statement and connection, then reused (PostgreSQL keeps
a generic plan when it is not costlier than the custom ones).

Only the cursors made inside the block change: Django's own (client-side binding) are used
everywhere else, and Django supports server-side binding (the `server_side_binding` option does
the same for the whole site). A pooler in transaction mode (PgBouncer) would need
max_prepared_statements; JUMO connects to PostgreSQL directly.
"""

from contextlib import contextmanager

from django.db import connection

try:
    from django.db.backends.postgresql.base import ServerBindingCursor
except ImportError:  # pragma: no cover - no psycopg 3
    ServerBindingCursor = None

# psycopg prepares a statement once it has run more than this many times on the connection.
PREPARE_THRESHOLD = 1


if ServerBindingCursor is not None:

    class PreparedCursor(ServerBindingCursor):
        """Django's server-side binding cursor; Django's query log (DEBUG, tests) reads the statement
        from the cursor's last query, which psycopg does not record when it runs a prepared one."""

        def _send_query_prepared(self, name, pgq, **kwargs):
            self._query = pgq
            return super()._send_query_prepared(name, pgq, **kwargs)


@contextmanager
def prepared_statements():
    if connection.vendor != "postgresql" or ServerBindingCursor is None:
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    if not hasattr(raw, "prepare_threshold") or issubclass(raw.cursor_factory, ServerBindingCursor):
        yield  # psycopg 2, or already inside the block, or server-side binding for the whole site
        return
    if not getattr(raw, "_jumo_generic_plans", False):
        # The statements' lists are arrays ($1 = ANY(…)): PostgreSQL would plan them again at each
        # execution (a custom plan looks cheaper when it sees the values); plan them once. Only
        # prepared statements follow this setting: Django's other queries are planned each time.
        with raw.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_generic_plan")
        raw._jumo_generic_plans = True
    factory, threshold = raw.cursor_factory, raw.prepare_threshold
    raw.cursor_factory = PreparedCursor
    if threshold is None:
        raw.prepare_threshold = PREPARE_THRESHOLD
    try:
        yield
    finally:
        raw.cursor_factory, raw.prepare_threshold = factory, threshold


# --- Hand-written SELECTs -------------------------------------------------------------------------
# Django compiles a queryset's SQL again at every execution: for the pages' joins of four to six
# models, a millisecond or more each time, more than the query itself. The hottest queries of the
# pages are written once here (web.services, web.recherche), and their rows made into model
# instances as Django's own queries make them.


def fetch_rows(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def any_of(column: str, values) -> tuple[str, list]:
    """`column` among `values`: one array parameter on PostgreSQL (the same statement whatever
    their number, prepared once), a list of parameters elsewhere."""
    values = list(values)
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [values]
    if not values:
        return "1 = 0", []
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


class Columns:
    """A model's columns in a hand-written SELECT (table alias `alias`), and its instances built from
    the rows: the backend's converters applied, then Model.from_db, as Django's queries do. With
    `fields`, only those fields are read; the others are deferred (read on first access)."""

    def __init__(self, model, alias: str, fields=None):
        self.model, self.alias = model, alias
        every = model._meta.concrete_fields
        self.fields = every if fields is None else [f for f in every if f.attname in fields or f.name in fields]
        self.names = None if fields is None else [f.attname for f in self.fields]
        self.width = len(self.fields)
        self._key = next(position for position, f in enumerate(self.fields) if f.primary_key)
        self._converters = {}
        self._sql = None

    def __str__(self) -> str:
        if self._sql is None:
            quote = connection.ops.quote_name  # the same double quotes on PostgreSQL and SQLite
            self._sql = ", ".join(f"{self.alias}.{quote(f.column)}" for f in self.fields)
        return self._sql

    def converters(self) -> list:
        if connection.vendor not in self._converters:
            table = self.model._meta.db_table
            found = []
            for position, field in enumerate(self.fields):
                column = field.get_col(table)
                convs = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
                if convs:
                    found.append((position, convs, column))
            self._converters[connection.vendor] = found
        return self._converters[connection.vendor]

    def instance(self, row, start: int = 0):
        """The instance read from row[start:start + width], or None when its key is NULL (a LEFT JOIN
        that found nothing)."""
        values = list(row[start : start + self.width])
        if values[self._key] is None:
            return None
        for position, convs, column in self.converters():
            for conv in convs:
                values[position] = conv(values[position], column, connection)
        return self.model.from_db(connection.alias, self.names, values)
