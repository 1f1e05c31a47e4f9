"""Distances between schools, in one place: geodesic on the WGS84 ellipsoid (geopy), and the
spherical bound used to search fast, in Python and in SQL.

A geodesic costs about 0.1 ms in Python; a discipline of a campaign has thousands of
candidate schools. So each candidate first gets a spherical distance (1 µs), which is
within SPHERE_ERROR of the geodesic one, and the geodesic distance is computed only where
it can change an answer: the rows shown on the page and the rows near a maximum distance.
Every distance shown, and every decision "within the maximum distance", is geodesic.
"""

import math
from bisect import bisect_left, bisect_right
from functools import lru_cache

from geopy.distance import geodesic

EARTH_MEAN_RADIUS_KM = 6371.0088
# One geodesic calculator for the process: geopy's builds the ellipsoid's series (a third of a
# distance's cost) in every geodesic(a, b); measure() keeps them.
_WGS84 = geodesic()
# The sphere of mean radius is within 0.6 % of the ellipsoid's geodesic everywhere; we allow 1 %.
SPHERE_ERROR = 0.01


@lru_cache(maxsize=20_000)
def distance_km(lat1, lon1, lat2, lon2) -> float:
    """The geodesic distance in km (geopy, WGS84); the last 20,000 pairs of points are remembered (a
    head pages through the same schools, a school's BMPs share its candidates)."""
    return _WGS84.measure((lat1, lon1), (lat2, lon2))


def haversine_term(half_dphi: float, cos_phi1: float, cos_phi2: float, half_dlambda: float) -> float:
    """The haversine of the angle between two points (radians: half the differences of latitude and
    longitude, cosines of the latitudes): spherical_km is 2R·asin(√h)."""
    return math.sin(half_dphi) ** 2 + cos_phi1 * cos_phi2 * math.sin(half_dlambda) ** 2


def haversine_term_of_km(km: float) -> float:
    """The haversine term of a spherical distance of `km` (plus a millionth for the rounding):
    h ≤ haversine_term_of_km(d) ⇔ spherical_km ≤ d, without the arc sine."""
    return math.sin(km / (2 * EARTH_MEAN_RADIUS_KM)) ** 2 * (1 + 1e-6)


def spherical_km(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance on the sphere of mean radius (haversine): a close bound of the geodesic."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    h = haversine_term((phi2 - phi1) / 2, math.cos(phi1), math.cos(phi2), math.radians(lon2 - lon1) / 2)
    return 2 * EARTH_MEAN_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def spherical_km_sql(latitude: str, longitude: str, origin: tuple[float, float], vendor: str) -> tuple[str, list]:
    """spherical_km from `origin` (latitude, longitude) to the row's point, as an SQL expression on the
    columns `latitude` and `longitude` and its parameters; NULL when the row has no position. The
    same formula as spherical_km (tested against it and against geopy)."""
    phi, lam = math.radians(origin[0]), math.radians(origin[1])
    least = "LEAST" if vendor == "postgresql" else "MIN"
    h = (
        f"POWER(SIN((RADIANS({latitude}) - %s) / 2), 2) "
        f"+ %s * COS(RADIANS({latitude})) * POWER(SIN((RADIANS({longitude}) - %s) / 2), 2)"
    )
    sql = f"CASE WHEN {latitude} IS NOT NULL AND {longitude} IS NOT NULL THEN %s * ASIN({least}(SQRT({h}), 1.0)) END"
    return sql, [2 * EARTH_MEAN_RADIUS_KM, phi, math.cos(phi), lam]


def spherical_box(lat, lon, km) -> tuple[float, float, float, float]:
    """(lat_min, lat_max, lon_min, lon_max) holding every point whose spherical_km from (lat, lon)
    is at most `km`: the box of that spherical cap, widened to every longitude when the cap holds a
    pole or crosses the antimeridian, and by a centimetre against rounding."""
    angle = km / EARTH_MEAN_RADIUS_KM
    dlat = math.degrees(angle)
    margin = 1e-7
    if abs(lat) + dlat >= 90.0:
        return lat - dlat - margin, lat + dlat + margin, -180.0, 180.0
    dlon = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat)))))
    if lon - dlon - margin < -180.0 or lon + dlon + margin > 180.0:
        return lat - dlat - margin, lat + dlat + margin, -180.0, 180.0
    return lat - dlat - margin, lat + dlat + margin, lon - dlon - margin, lon + dlon + margin


def within(items, maximum_km, exact) -> list:
    """The items (with .approx) whose geodesic distance is at most `maximum_km`.

    Sure ones by their spherical distance; those in the uncertain band get `exact(item)`.
    """
    kept = []
    for item in items:
        if item.approx is None:
            continue
        if item.approx * (1 + SPHERE_ERROR) <= maximum_km:
            kept.append(item)
        elif item.approx * (1 - SPHERE_ERROR) <= maximum_km and exact(item) <= maximum_km:
            kept.append(item)
    return kept


def refine_window(group: list, start: int, stop: int, exact) -> None:
    """Reorder `group` (sorted by .approx) in place so that positions [start, stop) hold the right
    items in geodesic order (ties by .bmp_id).

    Every item in the window has a geodesic distance at least (start-th approx) × (1 − e), so the
    items whose upper bound is below that all come before it; every item in the window has one at
    most (stop−1-th approx) × (1 + e), so the items whose lower bound is above that come after it.
    Only the items between get `exact(item)` and are sorted by it.
    """
    if start >= stop:
        return
    approx = [item.approx for item in group]
    upper = approx[stop - 1] * (1 + SPHERE_ERROR) / (1 - SPHERE_ERROR)
    end = bisect_right(approx, upper)
    lower = approx[start] * (1 - SPHERE_ERROR) / (1 + SPHERE_ERROR)
    first = bisect_left(approx, lower)
    segment = group[first:end]
    segment.sort(key=lambda item: (exact(item), item.bmp_id))
    group[first:end] = segment
