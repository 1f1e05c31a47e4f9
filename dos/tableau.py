"""The campaign dashboard of the DOS (issue 7): the progress of the campaign within an agent's perimeter.

What it counts (the rules of the services' perimeters, of jumelages and requests, and of geography;
see docs/ARCHITECTURE.md):
- the active BMPs of the perimeter, their hours and the hours in an active jumelage, by discipline
  and by département;
- the requests still pending (not past their deadline, campaign not closed) and those whose
  deadline falls within the next 24 hours;
- the active jumelages further than JUMO_ECART_CIBLE_ALERTE_HEURES from the full-time target
  (18 h, 20 h in EPS), and those whose schools are in different zones de remplacement, when the
  zones are known (the académie publishes none yet: then the page says « non renseignées »);
- the unpaired BMPs of the perimeter having a free partner (an active unpaired BMP of the same
  discipline and campaign, in another school, anywhere in the académie) within
  JUMO_DISTANCE_PARTENAIRE_KM, with the nearest one.

A fixed number of queries whatever the size of the campaign: the figures are grouped by the
database, the partner search runs in memory on the free BMPs sorted by latitude.
"""

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import BooleanField, Case, Count, Q, Sum, Value, When
from django.utils import timezone

from bmp.enums import Phase
from bmp.models import BMP, Campagne
from common.formats import format_km, format_pourcentage
from common.geo import EARTH_MEAN_RADIUS_KM as RAYON_KM
from common.geo import SPHERE_ERROR, distance_km, haversine_term, haversine_term_of_km, spherical_km
from jumelages import perimetres
from jumelages.geographie import meme_zone, zones_des_communes
from jumelages.models import (
    Jumelage,
    JumelageBMP,
    dans_un_jumelage_actif,
    demandes_en_attente,
    ecart_cible_alerte,
    format_heures,
)

FENETRE_ECHEANCE = datetime.timedelta(hours=24)
ZERO = Decimal("0")


def distance_partenaire_km() -> float:
    """The distance within which a free BMP counts as a possible partner (15 km by default)."""
    return float(getattr(settings, "JUMO_DISTANCE_PARTENAIRE_KM", 15))


def pourcentage(partie: Decimal, tout: Decimal) -> Decimal | None:
    """partie / tout in %, to one decimal (half up); None when there is nothing to divide."""
    if not tout:
        return None
    return (Decimal(partie) * 100 / Decimal(tout)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class Avancement:
    """The BMPs of one discipline, one département or the whole perimeter, and how many are paired."""

    pk: int | None
    code: str
    libelle: str
    bmps: int = 0
    bmps_jumeles: int = 0
    heures: Decimal = ZERO
    heures_jumelees: Decimal = ZERO
    avec_partenaire: int = 0  # unpaired BMPs having a free partner within the distance

    def ajouter(self, bmps: int, bmps_jumeles: int, heures, heures_jumelees) -> None:
        self.bmps += bmps
        self.bmps_jumeles += bmps_jumeles
        self.heures += heures or ZERO
        self.heures_jumelees += heures_jumelees or ZERO

    @property
    def bmps_libres(self) -> int:
        return self.bmps - self.bmps_jumeles

    @property
    def heures_libres(self) -> Decimal:
        return self.heures - self.heures_jumelees

    @property
    def part(self) -> Decimal | None:
        """The share of the hours paired, in %."""
        return pourcentage(self.heures_jumelees, self.heures)

    @property
    def part_texte(self) -> str:
        return format_pourcentage(self.part)

    @property
    def nom(self) -> str:
        return f"{self.code} – {self.libelle}" if self.libelle else self.code


@dataclass(frozen=True)
class Ecole:
    """A school as the dashboard shows it."""

    pk: int
    uai: str
    nom: str
    commune_id: int | None = None

    def __str__(self):
        return f"{self.nom} ({self.uai})"


@dataclass
class DemandeProche:
    """A pending request whose deadline falls within the next 24 hours."""

    pk: int
    discipline: str
    demandeur: Ecole
    destinataires: list[Ecole]
    cible_jumelage_id: int | None
    echeance: datetime.datetime


@dataclass
class JumelageSuivi:
    """An active jumelage of the perimeter, with its gap to the target and its zones."""

    pk: int
    discipline: str
    total_heures: Decimal
    cible_heures: int
    etablissements: list[Ecole] = field(default_factory=list)
    zone_commune: bool | None = None

    @property
    def ecart(self) -> Decimal:
        """Total minus target: negative below the target, positive above."""
        return self.total_heures - self.cible_heures

    @property
    def ecart_texte(self) -> str:
        signe = "+" if self.ecart > 0 else "−" if self.ecart < 0 else ""
        return f"{signe}{format_heures(abs(self.ecart))}"

    @property
    def total_texte(self) -> str:
        return format_heures(self.total_heures)


@dataclass
class BMPLibre:
    """An unpaired BMP of the perimeter and its nearest free partner."""

    pk: int
    identifiant: str
    discipline: str
    heures: Decimal
    etablissement: Ecole
    partenaire_pk: int
    partenaire_identifiant: str
    partenaire_heures: Decimal
    partenaire_etablissement: Ecole
    distance_km: float

    @property
    def distance_texte(self) -> str:
        return format_km(self.distance_km)


@dataclass
class TableauDeBord:
    campagne: Campagne
    maintenant: datetime.datetime
    phase: Phase
    perimetre: str
    disciplines: list[Avancement]
    departements: list[Avancement]
    total: Avancement
    demandes_en_attente: int
    demandes_24h: list[DemandeProche]
    jumelages_actifs: int
    ecart_alerte: Decimal
    jumelages_loin_cible: list[JumelageSuivi]
    zones_renseignees: bool
    jumelages_meme_zone: int
    jumelages_zones_differentes: list[JumelageSuivi]
    jumelages_zone_inconnue: int
    distance_max_km: float
    bmps_avec_partenaire: list[BMPLibre]
    bmps_libres_sans_position: int

    @property
    def distance_max_texte(self) -> str:
        return f"{self.distance_max_km:g}".replace(".", ",") + " km"

    @property
    def ecart_alerte_texte(self) -> str:
        return format_heures(self.ecart_alerte)

    @property
    def fin_fenetre(self) -> datetime.datetime:
        return self.maintenant + FENETRE_ECHEANCE


def tableau_de_bord(user, campagne: Campagne, now: datetime.datetime | None = None) -> TableauDeBord:
    """The dashboard of `campagne` as `user` (an agent: his perimeter; a superuser: everything) sees it."""
    now = now or timezone.now()
    disciplines, departements, total = _avancement(user, campagne)
    en_attente, proches = _demandes(user, campagne, now)
    suivis, zones = _jumelages(user, campagne)
    seuil, maximum_km = ecart_cible_alerte(), distance_partenaire_km()
    libres, sans_position = _bmps_avec_partenaire(user, campagne, maximum_km)
    for ligne in libres:
        disciplines[ligne.discipline].avec_partenaire += 1
        total.avec_partenaire += 1
    loin = sorted((j for j in suivis if abs(j.ecart) > seuil), key=lambda j: (-abs(j.ecart), j.discipline, j.pk))
    differentes = [j for j in suivis if j.zone_commune is False]
    service = None if perimetres.sees_everything(user) else perimetres.service_of(user)
    return TableauDeBord(
        campagne=campagne,
        maintenant=now,
        phase=campagne.phase_at(now),
        perimetre=f"{service.nom} ({service.uai})" if service is not None else "toute l'académie",
        disciplines=list(disciplines.values()),
        departements=list(departements.values()),
        total=total,
        demandes_en_attente=en_attente,
        demandes_24h=proches,
        jumelages_actifs=len(suivis),
        ecart_alerte=seuil,
        jumelages_loin_cible=loin,
        zones_renseignees=bool(zones),
        jumelages_meme_zone=sum(1 for j in suivis if j.zone_commune is True),
        jumelages_zones_differentes=differentes,
        jumelages_zone_inconnue=sum(1 for j in suivis if j.zone_commune is None),
        distance_max_km=maximum_km,
        bmps_avec_partenaire=libres,
        bmps_libres_sans_position=sans_position,
    )


def _avancement(user, campagne) -> tuple[dict[str, Avancement], dict[str, Avancement], Avancement]:
    """Active BMPs of the perimeter and their hours, paired or not, by discipline and département (one query)."""
    lignes = (
        perimetres.bmps(user, BMP.objects.filter(campagne=campagne, actif=True))
        .values(
            "discipline_id",
            "discipline__code",
            "discipline__libelle",
            "etablissement__departement_id",
            "etablissement__departement__code",
            "etablissement__departement__nom",
        )
        .annotate(
            n=Count("pk"),
            n_jumeles=Count("pk", filter=Q(dans_un_jumelage_actif())),
            heures_total=Sum("heures"),
            heures_jumelees=Sum("heures", filter=Q(dans_un_jumelage_actif())),
        )
        .order_by()
    )
    disciplines: dict[str, Avancement] = {}
    departements: dict[str, Avancement] = {}
    total = Avancement(None, "Total", "")
    for ligne in lignes:
        chiffres = (ligne["n"], ligne["n_jumeles"], ligne["heures_total"], ligne["heures_jumelees"])
        code = ligne["discipline__code"]
        if code not in disciplines:
            disciplines[code] = Avancement(ligne["discipline_id"], code, ligne["discipline__libelle"])
        disciplines[code].ajouter(*chiffres)
        code = ligne["etablissement__departement__code"]
        if code not in departements:
            departements[code] = Avancement(
                ligne["etablissement__departement_id"], code, ligne["etablissement__departement__nom"]
            )
        departements[code].ajouter(*chiffres)
        total.ajouter(*chiffres)
    return dict(sorted(disciplines.items())), dict(sorted(departements.items())), total


def _demandes(user, campagne, now) -> tuple[int, list[DemandeProche]]:
    """Requests still pending (past its deadline a request is expired, at the closing caduque,
    whether the sweeps have run or not) and those whose deadline is within the next 24 hours."""
    en_attente = perimetres.demandes(user, demandes_en_attente(campagne, now))
    limite = now + FENETRE_ECHEANCE
    compte = en_attente.aggregate(n=Count("pk"))["n"]
    proches = list(
        en_attente.filter(echeance__lte=limite)
        .select_related("bmp__discipline", "bmp__etablissement", "cible__etablissement")
        .order_by("echeance", "pk")
    )
    # The schools of the jumelages these requests ask to join, in one query whatever their number.
    membres: dict[int, list[Ecole]] = defaultdict(list)
    cibles = en_attente.filter(echeance__lte=limite, cible_jumelage__isnull=False).values("cible_jumelage_id")
    for jumelage_id, pk, uai, nom in (
        JumelageBMP.objects.filter(actif=True, jumelage_id__in=cibles)
        .order_by("jumelage_id", "position")
        .values_list("jumelage_id", "etablissement_id", "etablissement__uai", "etablissement__nom")
    ):
        membres[jumelage_id].append(Ecole(pk, uai, nom))
    lignes = []
    for d in proches:
        if d.cible_id:
            destinataires = [_ecole(d.cible.etablissement)]
        else:
            destinataires = membres.get(d.cible_jumelage_id, [])
        lignes.append(
            DemandeProche(
                pk=d.pk,
                discipline=d.bmp.discipline.code,
                demandeur=_ecole(d.bmp.etablissement),
                destinataires=destinataires,
                cible_jumelage_id=d.cible_jumelage_id,
                echeance=d.echeance,
            )
        )
    return compte, lignes


def _ecole(etablissement) -> Ecole:
    return Ecole(etablissement.pk, etablissement.uai, etablissement.nom, etablissement.commune_id)


def _jumelages(user, campagne) -> tuple[list[JumelageSuivi], dict]:
    """The active jumelages of the perimeter with their schools (one query) and the zones of their communes."""
    actifs = perimetres.jumelages(user, Jumelage.objects.filter(campagne=campagne, actif=True)).values("pk")
    suivis: dict[int, JumelageSuivi] = {}
    for jumelage_id, code, total, cible, pk, uai, nom, commune_id in (
        JumelageBMP.objects.filter(actif=True, jumelage_id__in=actifs)
        .order_by("jumelage_id", "position")
        .values_list(
            "jumelage_id",
            "jumelage__discipline__code",
            "jumelage__total_heures",
            "jumelage__discipline__heures_temps_plein",
            "etablissement_id",
            "etablissement__uai",
            "etablissement__nom",
            "etablissement__commune_id",
        )
    ):
        if jumelage_id not in suivis:
            suivis[jumelage_id] = JumelageSuivi(jumelage_id, code, total, cible)
        suivis[jumelage_id].etablissements.append(Ecole(pk, uai, nom, commune_id))
    zones = zones_des_communes(e.commune_id for j in suivis.values() for e in j.etablissements)
    for j in suivis.values():
        j.zone_commune = meme_zone(j.etablissements, zones)
    return list(suivis.values()), zones


@dataclass
class _Libre:
    pk: int
    identifiant: str
    heures: Decimal
    ecole: Ecole
    dans_perimetre: bool


@dataclass
class _Site:
    """A school holding free BMPs of one discipline."""

    latitude: float
    longitude: float
    ecole: Ecole
    bmps: list[_Libre] = field(default_factory=list)

    def __post_init__(self):
        # For the quick test of _plus_proche, in radians.
        self.phi = math.radians(self.latitude)
        self.demi_lambda = math.radians(self.longitude) / 2
        self.cos_phi = math.cos(self.phi)


def _dans_perimetre(user):
    condition = perimetres.etablissements_q(user, "etablissement__")
    if not condition:  # a superuser: every school
        return Value(True, output_field=BooleanField())
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


def _bmps_avec_partenaire(user, campagne, maximum_km: float) -> tuple[list[BMPLibre], int]:
    """The unpaired active BMPs of the perimeter having a free partner within `maximum_km` (geodesic).

    A free partner is an active BMP of the same discipline and campaign, in no active jumelage, in
    another school, wherever that school is. The nearest one is given; among the free BMPs of the
    nearest school, the one whose hours bring the pair closest to the full-time target. Returns the
    list and the number of free BMPs of the perimeter whose school has no coordinates.
    """
    libres = (
        BMP.objects.filter(campagne=campagne, actif=True)
        .filter(~dans_un_jumelage_actif())
        .annotate(dans=_dans_perimetre(user))
        .order_by("discipline__code", "etablissement__uai", "identifiant", "pk")
        .values_list(
            "pk",
            "identifiant",
            "heures",
            "discipline__code",
            "discipline__heures_temps_plein",
            "etablissement_id",
            "etablissement__uai",
            "etablissement__nom",
            "etablissement__latitude",
            "etablissement__longitude",
            "dans",
        )
    )
    sites: dict[str, dict[int, _Site]] = defaultdict(dict)
    cibles: dict[str, int] = {}
    sans_position = 0
    for pk, identifiant, heures, code, cible, ecole_id, uai, nom, lat, lon, dans in libres:
        if lat is None or lon is None:
            sans_position += bool(dans)
            continue
        cibles[code] = cible
        par_ecole = sites[code]
        if ecole_id not in par_ecole:
            par_ecole[ecole_id] = _Site(lat, lon, Ecole(ecole_id, uai, nom))
        site = par_ecole[ecole_id]
        site.bmps.append(_Libre(pk, identifiant, heures, site.ecole, dans))

    resultat = []
    for code, par_ecole in sites.items():
        tries = sorted(par_ecole.values(), key=lambda s: (s.latitude, s.longitude, s.ecole.pk))
        for rang, site in enumerate(tries):
            miens = [b for b in site.bmps if b.dans_perimetre]
            if not miens:
                continue
            proche = _plus_proche(rang, tries, maximum_km)
            if proche is None:
                continue
            partenaire_site, distance = proche
            for b in miens:
                p = min(partenaire_site.bmps, key=lambda x: (abs(b.heures + x.heures - cibles[code]), x.pk))
                resultat.append(
                    BMPLibre(
                        pk=b.pk,
                        identifiant=b.identifiant,
                        discipline=code,
                        heures=b.heures,
                        etablissement=b.ecole,
                        partenaire_pk=p.pk,
                        partenaire_identifiant=p.identifiant,
                        partenaire_heures=p.heures,
                        partenaire_etablissement=p.ecole,
                        distance_km=distance,
                    )
                )
    resultat.sort(key=lambda r: (r.discipline, r.distance_km, r.etablissement.uai, r.identifiant))
    return resultat, sans_position


def _plus_proche(rang: int, tries: list[_Site], maximum_km: float):
    """The nearest other school of `tries` (sorted by latitude) to tries[rang] within `maximum_km`, and
    its geodesic distance; None if there is none.

    The spherical distance is within SPHERE_ERROR of the geodesic one, and at least the difference of
    latitudes: walking away from the school in latitude order, the walk stops once that difference
    alone rules out a nearer school. The geodesic distance decides between the schools left.
    """
    site = tries[rang]
    limite = maximum_km / (1 - SPHERE_ERROR)  # beyond, a spherical distance is surely too far
    candidats = []
    seuil = limite
    # spherical_km ≤ seuil ⇔ h ≤ sin²(seuil / 2R), h being the haversine of the two points: most
    # schools are discarded on h alone, without the arc sine (a millionth is left for the rounding).
    h_seuil = haversine_term_of_km(seuil)
    for pas in (-1, 1):
        i = rang + pas
        while 0 <= i < len(tries):
            autre = tries[i]
            demi_dphi = (autre.phi - site.phi) / 2
            if RAYON_KM * 2 * abs(demi_dphi) > seuil:
                break
            i += pas
            h = haversine_term(demi_dphi, site.cos_phi, autre.cos_phi, autre.demi_lambda - site.demi_lambda)
            if h > h_seuil:
                continue
            approx = spherical_km(site.latitude, site.longitude, autre.latitude, autre.longitude)
            if approx <= seuil:
                candidats.append((approx, autre))
                seuil = min(seuil, approx * (1 + SPHERE_ERROR) / (1 - SPHERE_ERROR))
                h_seuil = haversine_term_of_km(seuil)
    if not candidats:
        return None
    exacts = [
        (distance_km(site.latitude, site.longitude, autre.latitude, autre.longitude), autre.ecole.uai, autre)
        for approx, autre in candidats
        if approx <= seuil
    ]
    distance, _uai, autre = min(exacts, key=lambda t: (t[0], t[1]))
    if distance > maximum_km:
        return None
    return autre, distance
