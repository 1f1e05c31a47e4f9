"""Prepared statements for the heads' pages (PostgreSQL, psycopg 3).

The pages' queries are small, but several join five to eight tables, and PostgreSQL spent more
time planning them than running them (the partner search's union of rings: 13 ms to plan, 3 ms
to run, on a loaded machine; a jumelage with its members, 10 ms and 0.3 ms). Inside
`requetes_preparees()`, the connection binds parameters on the server and psycopg prepares a
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
PREPARER_APRES = 1


if ServerBindingCursor is not None:

    class CurseurPrepare(ServerBindingCursor):
        """Django's server-side binding cursor; Django's query log (DEBUG, tests) reads the statement
        from the cursor's last query, which psycopg does not record when it runs a prepared one."""

        def _send_query_prepared(self, name, pgq, **kwargs):
            self._query = pgq
            return super()._send_query_prepared(name, pgq, **kwargs)


@contextmanager
def requetes_preparees():
    if connection.vendor != "postgresql" or ServerBindingCursor is None:
        yield
        return
    connection.ensure_connection()
    brute = connection.connection
    if not hasattr(brute, "prepare_threshold") or issubclass(brute.cursor_factory, ServerBindingCursor):
        yield  # psycopg 2, or already inside the block, or server-side binding for the whole site
        return
    if not getattr(brute, "_jumo_plans_generiques", False):
        # The statements' lists are arrays ($1 = ANY(…)): PostgreSQL would plan them again at each
        # execution (a custom plan looks cheaper when it sees the values); plan them once. Only
        # prepared statements follow this setting: Django's other queries are planned each time.
        with brute.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_generic_plan")
        brute._jumo_plans_generiques = True
    fabrique, seuil = brute.cursor_factory, brute.prepare_threshold
    brute.cursor_factory = CurseurPrepare
    if seuil is None:
        brute.prepare_threshold = PREPARER_APRES
    try:
        yield
    finally:
        brute.cursor_factory, brute.prepare_threshold = fabrique, seuil


# --- Hand-written SELECTs -------------------------------------------------------------------------
# Django compiles a queryset's SQL again at every execution: for the pages' joins of four to six
# models, a millisecond or more each time, more than the query itself. The hottest queries of the
# pages are written once here (web.services, web.recherche), and their rows made into model
# instances as Django's own queries make them.


def lire(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def dans(colonne: str, valeurs) -> tuple[str, list]:
    """`colonne` among `valeurs`: one array parameter on PostgreSQL (the same statement whatever
    their number, prepared once), a list of parameters elsewhere."""
    valeurs = list(valeurs)
    if connection.vendor == "postgresql":
        return f"{colonne} = ANY(%s)", [valeurs]
    if not valeurs:
        return "1 = 0", []
    return f"{colonne} IN ({', '.join(['%s'] * len(valeurs))})", valeurs


class Colonnes:
    """A model's columns in a hand-written SELECT (table alias `alias`), and its instances built from
    the rows: the backend's converters applied, then Model.from_db, as Django's queries do. With
    `champs`, only those fields are read; the others are deferred (read on first access)."""

    def __init__(self, model, alias: str, champs=None):
        self.model, self.alias = model, alias
        tous = model._meta.concrete_fields
        self.champs = tous if champs is None else [f for f in tous if f.attname in champs or f.name in champs]
        self.noms = None if champs is None else [f.attname for f in self.champs]
        self.largeur = len(self.champs)
        self._cle = next(position for position, f in enumerate(self.champs) if f.primary_key)
        self._convertisseurs = {}
        self._sql = None

    def __str__(self) -> str:
        if self._sql is None:
            quote = connection.ops.quote_name  # the same double quotes on PostgreSQL and SQLite
            self._sql = ", ".join(f"{self.alias}.{quote(f.column)}" for f in self.champs)
        return self._sql

    def convertisseurs(self) -> list:
        if connection.vendor not in self._convertisseurs:
            table = self.model._meta.db_table
            liste = []
            for position, field in enumerate(self.champs):
                colonne = field.get_col(table)
                convs = connection.ops.get_db_converters(colonne) + field.get_db_converters(connection)
                if convs:
                    liste.append((position, convs, colonne))
            self._convertisseurs[connection.vendor] = liste
        return self._convertisseurs[connection.vendor]

    def instance(self, row, debut: int = 0):
        """The instance read from row[debut:debut + largeur], or None when its key is NULL (a LEFT JOIN
        that found nothing)."""
        valeurs = list(row[debut : debut + self.largeur])
        if valeurs[self._cle] is None:
            return None
        for position, convs, colonne in self.convertisseurs():
            for conv in convs:
                valeurs[position] = conv(valeurs[position], colonne, connection)
        return self.model.from_db(connection.alias, self.noms, valeurs)
