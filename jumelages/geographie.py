"""Distances and zones between the schools of a (possible) jumelage, for the DOS workspace.

Distances are geodesic between the schools' coordinates (geopy,
through common.geo); two schools share a zone de remplacement when their communes belong to a
common zone. The académie publishes no zones yet (fixtures/README): then the answer is
« non renseignée » (None), never a guess.
"""

from dataclasses import dataclass, field
from itertools import combinations

from common.geo import distance_km
from establishments.models import ZoneRemplacement


def zones_des_communes(commune_ids) -> dict[int, frozenset[int]]:
    """{commune id: ids of its zones}, in one query; a commune in no zone is absent."""
    zones: dict[int, set[int]] = {}
    lien = ZoneRemplacement.communes.through
    for commune_id, zone_id in lien.objects.filter(commune_id__in=set(commune_ids)).values_list(
        "commune_id", "zoneremplacement_id"
    ):
        zones.setdefault(commune_id, set()).add(zone_id)
    return {commune_id: frozenset(ids) for commune_id, ids in zones.items()}


def distance_entre(a, b) -> float | None:
    """Geodesic km between two schools, None when one has no coordinates."""
    if None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return None
    return distance_km(float(a.latitude), float(a.longitude), float(b.latitude), float(b.longitude))


def meme_zone(etablissements, zones: dict[int, frozenset[int]]) -> bool | None:
    """True when every school's commune shares one zone; None when a commune's zones are unknown."""
    ensembles = [zones.get(e.commune_id) for e in etablissements]
    if any(not z for z in ensembles):
        return None
    return bool(frozenset.intersection(*ensembles))


@dataclass
class Geographie:
    """The pairwise distances of a group of schools and whether they share a zone."""

    distances: list[tuple[object, object, float | None]] = field(default_factory=list)
    zone_commune: bool | None = None

    @property
    def distance_max(self) -> float | None:
        connues = [d for _a, _b, d in self.distances if d is not None]
        return max(connues) if connues else None

    @property
    def zone_texte(self) -> str:
        return {True: "même zone", False: "zones différentes", None: "zone non renseignée"}[self.zone_commune]


def geographie(etablissements, zones: dict[int, frozenset[int]] | None = None) -> Geographie:
    etablissements = list(etablissements)
    if zones is None:
        zones = zones_des_communes(e.commune_id for e in etablissements)
    return Geographie(
        distances=[(a, b, distance_entre(a, b)) for a, b in combinations(etablissements, 2)],
        zone_commune=meme_zone(etablissements, zones),
    )
