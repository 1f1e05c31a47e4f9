"""The SQL of « Trouver un partenaire »: the candidates filtered, ordered and cut by the database.

A discipline of a campaign has thousands of candidate BMPs; a page shows twenty. The database
returns only the first rows of the list, in the order of the spherical distance (common.geo: within
SPHERE_ERROR of the geodesic one), or of the closeness of the total to the full time, then the
distance. web.services makes the order of the displayed rows exactly geodesic (geopy).

Sorted by distance, the list is read ring by ring around my school: a UNION ALL of the candidates
at most 2 km away, then between 2 and 4 km, … then the others (farther or without position). Each
ring is prefiltered by a latitude and longitude box (index establishments.etablissement_position),
sorted, and cut at the number of rows wanted; PostgreSQL executes the branches of a UNION ALL in
order and stops as soon as the LIMIT is reached, so a page near my school reads only the schools
of the first few rings, whatever the size of the campaign. The branches partition the list (the
same distance expression bounds them), so the rows come out in the list's order.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from common import geo
from establishments.models import Commune

from .tables import BMP_TABLE, ETABLISSEMENT_TABLE, JUMELAGE_BMP_TABLE, JUMELAGE_TABLE, ZONE_COMMUNE_TABLE, ZONE_TABLE

# Radii of the rings (km) before the rest of the list: each ring holds about four times as many
# schools as the one before, so that the ring where the page ends is read with little more than
# the page (the branches never reached cost nothing; the statement is planned once, web.db).
RAYONS_KM = (2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)

# The columns of a candidate row, in this order (web.services.Candidat is built from them).
COLONNES = (
    "b.id, b.etablissement_id, b.heures, e.latitude, e.longitude, e.position, e.commune_id, "
    "m.jumelage_id, j.total_heures"
)


@dataclass
class Criteres:
    """What the search asks of the database (web.services.rechercher_partenaires fills it)."""

    campagne_id: int
    discipline_id: int
    exclus: list  # schools left out: mine and those of my jumelage
    troisieme: bool  # only free BMPs (mine is in a jumelage of two)
    base: Decimal  # hours of my BMP, or my jumelage's total
    cible: int  # full time of the discipline
    origine: tuple | None  # (latitude, longitude) of my school, or None
    exclure_pks: tuple = ()
    seulement: int | None = None  # one BMP only (the request form)
    departement_id: int | None = None
    commune: str = ""
    meme_zone_de: int | None = None  # my commune: only the candidates of « même zone »
    ecart_max: Decimal | None = None
    sans_depasser: bool = False
    distance_max: float | None = None  # km, geodesic; rows up to distance_max / (1 - e) are returned
    par_cible: bool = False  # sort by closeness to the full time, then distance


# Hours, totals and gaps are decimal; the parameters are cast so that SQLite, which has them as
# text, compares numbers. A total: my BMP's hours (or my jumelage's total) plus the candidate's
# (or its jumelage's total); its gap to the full time, in hundredths of an hour as displayed.
NOMBRE = "CAST(%s AS NUMERIC)"
TOTAL = f"{NOMBRE} + COALESCE(j.total_heures, b.heures)"
ECART = f"ROUND(ABS({TOTAL} - {NOMBRE}), 2)"


def _placeholders(values) -> str:
    return ", ".join(["%s"] * len(values))


def _conditions(c: Criteres) -> tuple[str, list]:
    """The WHERE clause shared by every branch: the candidates of the search, filtered."""
    sql = [
        "b.campagne_id = %s AND b.discipline_id = %s AND b.actif AND b.remplace_par_id IS NULL",
        f"b.etablissement_id NOT IN ({_placeholders(c.exclus)})",
    ]
    params = [c.campagne_id, c.discipline_id, *c.exclus]
    if c.exclure_pks:
        sql.append(f"b.id NOT IN ({_placeholders(c.exclure_pks)})")
        params += list(c.exclure_pks)
    if c.seulement is not None:
        sql.append("b.id = %s")
        params.append(c.seulement)
    if c.troisieme:
        sql.append("m.id IS NULL")
    else:  # free, or in a jumelage of two (no active third member)
        sql.append(
            f"(m.id IS NULL OR NOT EXISTS (SELECT 1 FROM {JUMELAGE_BMP_TABLE} c "
            "WHERE c.jumelage_id = m.jumelage_id AND c.actif AND c.position = 3))"
        )
    if c.departement_id is not None:
        sql.append("e.departement_id = %s")
        params.append(c.departement_id)
    if c.commune:
        from django.db.models import Q

        communes = Commune.objects.filter(Q(code_insee=c.commune) | Q(nom__icontains=c.commune)).values("pk")
        sub, sub_params = communes.query.sql_with_params()
        sql.append(f"e.commune_id IN ({sub})")
        params += list(sub_params)
    if c.ecart_max is not None:
        sql.append(f"{ECART} <= {NOMBRE}")
        params += [c.base, c.cible, c.ecart_max]
    if c.sans_depasser:
        sql.append(f"ROUND({TOTAL}, 2) <= {NOMBRE}")
        params += [c.base, c.cible]
    if c.meme_zone_de is not None:
        # « même zone »: the commune's zone (the first by code, as shown) is one of my commune's.
        sql.append(
            f"(SELECT t.zoneremplacement_id FROM {ZONE_COMMUNE_TABLE} t "
            f"JOIN {ZONE_TABLE} z ON z.id = t.zoneremplacement_id "
            "WHERE t.commune_id = e.commune_id ORDER BY z.code LIMIT 1) "
            f"IN (SELECT zoneremplacement_id FROM {ZONE_COMMUNE_TABLE} WHERE commune_id = %s)"
        )
        params.append(c.meme_zone_de)
    return " AND ".join(sql), params


def _branch(c: Criteres, distance, condition: tuple, ordre: str, limite: int, boite=None) -> tuple[str, list]:
    """One sorted and limited SELECT of candidate rows, with their distance and gap to full time;
    `condition` (sql, params) bounds the distance, `boite` is a radius (km) whose box prefilters."""
    where, params = _conditions(c)
    distance_sql, distance_params = distance
    if boite is not None:
        lat_min, lat_max, lon_min, lon_max = geo.spherical_box(*c.origine, boite)
        where += " AND e.latitude BETWEEN %s AND %s AND e.longitude BETWEEN %s AND %s"
        params += [lat_min, lat_max, lon_min, lon_max]
    sql = (
        f"SELECT * FROM (SELECT {COLONNES}, {distance_sql} AS approx, {ECART} AS ecart "
        f"FROM {BMP_TABLE} b JOIN {ETABLISSEMENT_TABLE} e ON e.id = b.etablissement_id "
        f"LEFT JOIN {JUMELAGE_BMP_TABLE} m ON m.bmp_id = b.id AND m.actif "
        f"LEFT JOIN {JUMELAGE_TABLE} j ON j.id = m.jumelage_id "
        f"WHERE {where}) s WHERE {condition[0]} ORDER BY {ordre} LIMIT %s"
    )
    return sql, [*distance_params, c.base, c.cible, *params, *condition[1], limite]


TOUT = ("1 = 1", [])


def requete(c: Criteres, limite: int) -> tuple[str, list]:
    """The first `limite` rows of the list, in its order; see the module's docstring."""
    if c.origine is None:
        # No position for my school: no distance; by gap to full time (if asked), then by BMP.
        return _branch(c, ("NULL", []), TOUT, "ecart, id" if c.par_cible else "id", limite)
    distance = geo.spherical_km_sql("e.latitude", "e.longitude", c.origine, connection.vendor)
    borne = None if c.distance_max is None else c.distance_max / (1 - geo.SPHERE_ERROR)
    if c.par_cible or c.seulement is not None:
        # One branch: the gap to full time comes first, so rings would not help.
        if borne is None:
            return _branch(c, distance, TOUT, "ecart, (approx IS NULL), approx, id", limite)
        return _branch(c, distance, ("approx <= %s", [borne]), "ecart, approx, id", limite, boite=borne)
    rayons = [r for r in RAYONS_KM if borne is None or r < borne] + ([] if borne is None else [borne])
    branches, params = [], []
    precedent = None
    for rayon in rayons:
        if precedent is None:
            condition = ("approx <= %s", [rayon])
        else:
            condition = ("approx > %s AND approx <= %s", [precedent, rayon])
        sql, branche_params = _branch(c, distance, condition, "approx, id", limite, boite=rayon)
        branches.append(sql)
        params += branche_params
        precedent = rayon
    if borne is None:  # the rest: farther than the last ring, or without position (last, by BMP)
        condition = ("(approx > %s OR approx IS NULL)", [precedent])
        sql, branche_params = _branch(c, distance, condition, "(approx IS NULL), approx, id", limite)
        branches.append(sql)
        params += branche_params
    union = " UNION ALL ".join(f"SELECT * FROM ({sql}) r{n}" for n, sql in enumerate(branches))
    return f"SELECT * FROM ({union}) l LIMIT %s", [*params, limite]


def lignes(c: Criteres, limite: int) -> list[tuple]:
    sql, params = requete(c, limite)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
