"""Distances between schools (DOMAIN.md "Geography"): geodesic on the WGS84 ellipsoid, with geopy.

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


def spherical_km(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance on the sphere of mean radius (haversine): a close bound of the geodesic."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_MEAN_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def bounding_box(lat, lon, km) -> tuple[float, float, float, float]:
    """(lat_min, lat_max, lon_min, lon_max) holding every point within `km` of (lat, lon), with margin."""
    margin = 1 + 2 * SPHERE_ERROR
    dlat = km * margin / 110.5  # a degree of latitude is at least 110.57 km
    top = min(89.0, abs(lat) + dlat)
    dlon = min(180.0, km * margin / (111.32 * math.cos(math.radians(top))))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


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


def spherical_km_expression(lat_field: str, lon_field: str, lat: float, lon: float):
    """spherical_km from (lat, lon) to the row's point, computed by the database (haversine)."""
    from django.db.models import Case, F, FloatField, Q, Value, When
    from django.db.models.functions import ASin, Cos, Least, Power, Radians, Sin, Sqrt

    phi, lam = math.radians(lat), math.radians(lon)
    half_dphi = (Radians(F(lat_field)) - Value(phi)) / Value(2.0)
    half_dlam = (Radians(F(lon_field)) - Value(lam)) / Value(2.0)
    h = Power(Sin(half_dphi), 2) + Value(math.cos(phi)) * Cos(Radians(F(lat_field))) * Power(Sin(half_dlam), 2)
    distance = Value(2 * EARTH_MEAN_RADIUS_KM) * ASin(Least(Sqrt(h), Value(1.0)), output_field=FloatField())
    # LEAST ignores NULL in PostgreSQL: a school without coordinates has no distance.
    known = Q(**{f"{lat_field}__isnull": False, f"{lon_field}__isnull": False})
    return Case(When(known, then=distance), default=None, output_field=FloatField())
