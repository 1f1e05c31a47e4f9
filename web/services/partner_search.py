"""« Trouver un partenaire » and its map (« outil de localisation »): the BMPs of the same discipline
and campaign in other schools, free or in a jumelage of two (to make three), with their geodesic
distance, their zone de remplacement, and the total a jumelage with them would reach.

The database filters, orders and cuts the list (web.recherche): only the page's rows and a few
more are read, in spherical distance order; the rows shown are then put in exact geodesic order
(geopy). The page's rows take two more queries for their schools, zones, partners and pending
requests (web.lectures); the list is read once more, longer, only when more than MARGE rows lie
within the spheres' error of the page's last distance.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from bmp.models import BMP
from common import geo
from establishments.models import Etablissement
from jumelages.models import JumelageBMP, format_heures

from .. import lectures
from .. import recherche as recherche_sql
from .jumelage import VueJumelage, vues_jumelages

MEME_ZONE, AUTRE_ZONE, ZONE_INCONNUE = "meme", "autre", "inconnue"
PAR_DISTANCE, PAR_CIBLE = "distance", "cible"
ZONE_COLORS = ["#000091", "#e1000f", "#18753c", "#b34000", "#6a6af4", "#a558a0", "#00a95f", "#c3992a"]


@dataclass
class Candidat:
    bmp_id: int
    etablissement_id: int
    heures: float
    latitude: float | None
    longitude: float | None
    position: str
    commune_id: int
    jumelage_id: int | None
    total: float
    ecart: float
    zone: str = ZONE_INCONNUE
    approx: float | None = None
    distance: float | None = None
    etablissement: Etablissement | None = None
    partenaires: list = field(default_factory=list)
    demande_en_attente: bool = False
    couleur: str = "#666666"
    libelle_zone: str = ""
    cle_ecart: object = None  # the gap as the database sorted it (sort by closeness to full time)

    @property
    def position_approximative(self) -> bool:
        return self.position == "APPROXIMATIVE"

    @property
    def total_texte(self) -> str:
        return format_heures(Decimal(f"{self.total:.2f}"))

    @property
    def heures_texte(self) -> str:
        return format_heures(Decimal(f"{self.heures:.2f}"))

    @property
    def distance_texte(self) -> str:
        if self.distance is None:
            return "distance inconnue"
        return f"{self.distance:.1f} km".replace(".", ",")


@dataclass
class Recherche:
    bmp: BMP
    cible: int
    base: Decimal
    mode: str  # "libre": any free BMP or a jumelage of two; "troisieme": a free BMP to make three
    raison: str = ""
    zones: bool = False
    page: object = None
    origine: Etablissement | None = None
    mon_jumelage: VueJumelage | None = None

    @property
    def base_texte(self) -> str:
        return format_heures(self.base)


def search_context(bmp: BMP, etablissement: Etablissement) -> Recherche:
    """What the search looks for from this BMP: a free BMP looks for a free BMP or a jumelage of two;
    a BMP in a jumelage of two, for a free third (a jumelage holds two or three BMPs); a BMP withdrawn
    by the nightly refresh, or in a jumelage of three, for nothing (`raison` says why)."""
    cible = bmp.discipline.heures_temps_plein
    if hasattr(bmp, "jumelage_actif_id"):  # read with the BMP (web.lectures.bmp)
        mien = [bmp.jumelage_actif_id] if bmp.jumelage_actif_id else []
    else:
        mien = JumelageBMP.objects.filter(actif=True, bmp=bmp).values_list("jumelage_id", flat=True)
    vues = vues_jumelages(mien, etablissement, construction=False)
    vue = next(iter(vues.values()), None)
    recherche = Recherche(bmp=bmp, cible=cible, base=bmp.heures, mode="libre", mon_jumelage=vue)
    if not bmp.actif:
        recherche.raison = "Ce BMP a été retiré par l'actualisation des BMP : il ne peut plus être jumelé."
    elif vue is not None and vue.complet:
        recherche.raison = "Ce BMP fait déjà partie d'un jumelage complet de trois BMP."
    elif vue is not None:
        recherche.mode, recherche.base = "troisieme", vue.jumelage.total_heures
    return recherche


# Rows read beyond the page: enough, nearly always, to put the page's rows in geodesic order (the
# rows within SPHERE_ERROR of its last distance); the list is read again, longer, when not.
MARGE = 20
PAGE_MAX = 100_000


@dataclass
class PageCandidats:
    """A page of the list. The list is read only up to a little past the page: its length is known
    (`compte`) when the page is among the last ones, else only that more rows follow."""

    object_list: list
    number: int
    par_page: int
    has_next: bool
    compte: int | None

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self):
        return len(self.object_list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def num_pages(self) -> int | None:
        return None if self.compte is None else max(1, -(-self.compte // self.par_page))

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.par_page + 1 if self.object_list else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.par_page + len(self.object_list)


def _page_number(page) -> int:
    """The page asked for: 1 when it is not a positive number (the last one is found later)."""
    try:
        numero = int(page)
    except (TypeError, ValueError):
        return 1
    return min(max(numero, 1), PAGE_MAX)


def rechercher_partenaires(
    bmp: BMP, etablissement: Etablissement, filtres: dict, *, page=1, par_page=20, exclure_pks=(), seulement=None
) -> Recherche:
    """Trouver un partenaire: the BMPs of the same discipline and campaign in other schools, free or
    in a jumelage of two (to make three), with their geodesic distances and whether they share my
    zone de remplacement.

    `filtres` holds the form's values (web.filters.PartenaireFilter.valeurs). The database filters,
    orders by spherical distance (or closeness to the full time, then distance) and returns the
    first rows of the list up to a little past the page (web.recherche); the geodesic distance
    (geopy) is computed for the rows shown, which are put in exact geodesic order, and for the rows
    near a maximum distance. `seulement`: the row of that BMP only (the request form).
    """
    recherche = search_context(bmp, etablissement)
    recherche.origine = etablissement
    if recherche.raison:
        recherche.page = PageCandidats([], 1, par_page, False, 0)
        return recherche
    exclus = {etablissement.pk}
    if recherche.mon_jumelage:
        exclus |= {a.etablissement_id for a in recherche.mon_jumelage.membres}
    origine = (etablissement.latitude, etablissement.longitude)
    if None in origine:
        origine = None
    distance_max = filtres.get("distance_max")
    par_cible = (filtres.get("tri") or PAR_DISTANCE) == PAR_CIBLE
    departement = filtres.get("departement")
    criteres = recherche_sql.Criteres(
        campagne_id=bmp.campagne_id,
        discipline_id=bmp.discipline_id,
        exclus=sorted(exclus),
        troisieme=recherche.mode == "troisieme",
        base=recherche.base,
        cible=recherche.cible,
        origine=origine,
        exclure_pks=tuple(exclure_pks),
        seulement=seulement,
        departement_id=departement.pk if departement is not None else None,
        commune=(filtres.get("commune") or "").strip(),
        meme_zone_de=etablissement.commune_id if filtres.get("meme_zone") else None,
        ecart_max=filtres.get("ecart_max"),
        sans_depasser=bool(filtres.get("sans_depasser")),
        distance_max=float(distance_max) if distance_max is not None else None,
        par_cible=par_cible,
    )

    exactes = {}

    def exact(c: Candidat) -> float:
        if c.distance is None:
            if c.etablissement_id not in exactes:
                exactes[c.etablissement_id] = geo.distance_km(origine[0], origine[1], c.latitude, c.longitude)
            c.distance = exactes[c.etablissement_id]
        return c.distance

    numero = _page_number(page)
    limite = numero * par_page + MARGE
    while True:
        if distance_max is not None and origine is None:
            rows = []  # no position: no distance can be checked
        else:
            rows = recherche_sql.lignes(criteres, limite)
        epuise = len(rows) < limite
        candidats = [_candidate_from_row(row, recherche) for row in rows]
        if distance_max is not None:
            candidats = geo.within(candidats, float(distance_max), exact)
        if epuise:  # the whole list is read: a page past its end is its last page
            numero = min(numero, max(1, -(-len(candidats) // par_page)))
        debut, fin = (numero - 1) * par_page, numero * par_page
        groupes = _groups(candidats, par_cible)
        if epuise or _enough(groupes, len(candidats), fin):
            break
        limite *= 4
    _refine(groupes, debut, fin, exact)
    liste = [c for groupe in groupes for c in groupe]
    recherche.page = PageCandidats(liste[debut:fin], numero, par_page, len(liste) > fin, len(liste) if epuise else None)
    for c in recherche.page.object_list:
        if c.approx is not None:
            exact(c)
    _attach_details(recherche, etablissement)
    return recherche


def _candidate_from_row(row, recherche: Recherche) -> Candidat:
    pk, etab, heures, lat, lon, position, commune, jumelage_id, total_jumelage, approx, ecart = row
    # Hours are hundredths at most: floats rounded back to them, as shown.
    heures = float(heures)
    total = round(float(recherche.base) + (float(total_jumelage) if jumelage_id else heures), 2)
    ecart_float = round(abs(total - recherche.cible), 2)
    candidat = Candidat(pk, etab, heures, lat, lon, position, commune, jumelage_id, total, ecart_float, approx=approx)
    candidat.cle_ecart = ecart
    return candidat


def _groups(candidats: list, par_cible: bool) -> list[list]:
    """The list cut where the database's order key changes: inside a group, rows are in spherical
    distance order (then BMP); the geodesic order may differ inside a group only."""
    groupes, cle_precedente = [], object()
    for c in candidats:
        cle = (c.cle_ecart, c.approx is None) if par_cible else (c.approx is None,)
        if cle != cle_precedente:
            groupes.append([])
            cle_precedente = cle
        groupes[-1].append(c)
    return groupes


def _enough(groupes: list[list], nombre: int, fin: int) -> bool:
    """Whether the rows read decide the page [.., fin) and whether a next page exists: a row after
    it, and, when the page ends in the last group read, a row of it farther than the page's last
    one by more than the spheres' error (geo.refine_window reads up to there)."""
    if nombre <= fin:
        return False
    dernier = groupes[-1]
    if nombre - len(dernier) >= fin or dernier[0].approx is None:
        return True
    position = fin - (nombre - len(dernier))
    borne = dernier[position - 1].approx * (1 + geo.SPHERE_ERROR) / (1 - geo.SPHERE_ERROR)
    return dernier[-1].approx > borne


def _refine(groupes: list[list], debut: int, fin: int, exact) -> None:
    """Make positions [debut, fin) exact: geodesic order inside each group that overlaps them."""
    position = 0
    for groupe in groupes:
        bas, haut = max(debut - position, 0), min(fin - position, len(groupe))
        if bas < haut and groupe[0].approx is not None:
            geo.refine_window(groupe, bas, haut, exact)
        position += len(groupe)


def _attach_details(recherche: Recherche, etablissement: Etablissement) -> None:
    """Schools, communes, zones, partners and pending requests of the rows on the page: two queries
    (web.lectures)."""
    lignes = list(recherche.page.object_list)
    ecoles = {c.etablissement_id for c in lignes} | {etablissement.pk}
    etablissements, zones, codes = lectures.etablissements_et_zones(ecoles)
    recherche.zones = bool(codes)
    mes_zones = {zone[0] for zone in zones.get(etablissement.commune_id, [])}
    partenaires, cibles = lectures.partenaires_et_demandes(
        {c.jumelage_id for c in lignes if c.jumelage_id}, recherche.bmp, timezone.now()
    )
    for c in lignes:
        c.etablissement = etablissements[c.etablissement_id]
        c.partenaires = [a for a in partenaires.get(c.jumelage_id, []) if a.bmp_id != c.bmp_id]
        c.demande_en_attente = (("jumelage", c.jumelage_id) if c.jumelage_id else ("bmp", c.bmp_id)) in cibles
        zone = zones[c.commune_id][0] if zones.get(c.commune_id) else None
        if mes_zones and zone:
            c.zone = MEME_ZONE if zone[0] in mes_zones else AUTRE_ZONE
        if zone:
            c.libelle_zone = f"{zone[1]} – {zone[2]}"
            c.couleur = ZONE_COLORS[codes.index(zone[1]) % len(ZONE_COLORS)]


def candidat(bmp: BMP, etablissement: Etablissement, cible_pk: int) -> Candidat | None:
    """The row of the partner search for one BMP, or None when the search would not show it."""
    recherche = rechercher_partenaires(bmp, etablissement, {}, seulement=cible_pk)
    lignes = list(recherche.page.object_list) if recherche.page else []
    return lignes[0] if lignes else None


def carte(recherche: Recherche, tile_url: str) -> dict:
    """The data of the map (passed with json_script): my school and the candidates of the page."""
    origine = recherche.origine
    return {
        "tuiles": tile_url,
        "origine": {
            "nom": str(origine),
            "lat": origine.latitude,
            "lon": origine.longitude,
        },
        "candidats": [
            {
                "nom": str(c.etablissement),
                "commune": c.etablissement.commune.nom,
                "lat": c.latitude,
                "lon": c.longitude,
                "distance": c.distance_texte,
                "approximative": c.position_approximative,
                "zone": c.libelle_zone or "zone non renseignée",
                "couleur": c.couleur,
                "heures": c.heures_texte,
                "total": c.total_texte,
            }
            for c in recherche.page.object_list
            if c.latitude is not None
        ],
    }
