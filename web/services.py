"""What the heads' pages read: the current campaign and its phase, my BMPs, the partner search,
the requests, a jumelage and its history. Read only: every change goes through jumelages.services,
whose rules (who may act, in which phase) are reused here, never written again.

Each function runs a fixed number of queries, whatever the number of schools and BMPs (the
partner search reads its list once more, longer, only when more than MARGE rows lie within the
spheres' error of a page's last distance). The hottest reads are SQL written once (web.lectures,
web.recherche) and run as prepared statements (web.db); the list of partners is filtered, ordered
and cut by the database.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from bmp.enums import Phase
from bmp.models import BMP, Campagne
from common import geo
from common.formats import format_jour
from establishments.models import Etablissement
from jumelages.enums import EtatDemande, OrigineJumelage, TypeEvenement
from jumelages.models import Demande, Evenement, Jumelage, JumelageBMP, format_heures
from jumelages.services import DEMANDE, ETABLISSEMENT, PHASES_PERMISES, format_instant, refus_de_phase

from . import lectures
from . import recherche as recherche_sql

# --- The campaign and its phase (DOMAIN.md "The campaign calendar") ---------------------------

PHASES_D_ACTION = PHASES_PERMISES[(ETABLISSEMENT, DEMANDE)]

DESCRIPTION_PHASE = {
    Phase.PREPARATION: "Les services de gestion des moyens préparent les jumelages ; "
    "les établissements ne peuvent pas encore agir.",
    Phase.OUVERTE: "Les établissements adressent, acceptent, refusent et annulent des demandes, "
    "et peuvent supprimer un jumelage (avec un motif).",
    Phase.VALIDATION: "Les services valident les jumelages : consultation seule pour les établissements.",
    Phase.CONSULTATION: "Consultation seule : vos jumelages et vos établissements partenaires.",
    Phase.ARCHIVEE: "La campagne est archivée.",
}


def actions_ouvertes(campagne: Campagne | None, instant=None) -> bool:
    """Whether a school may act now: the workflow's own table of phases (jumelages.services)."""
    return campagne is not None and campagne.phase_at(instant or timezone.now()) in PHASES_D_ACTION


def acces_refuse(campagne: Campagne | None) -> str:
    """The sentence saying a school no longer sees this campaign (archivée, DOMAIN.md our decision), or ""."""
    if campagne is None or campagne.phase_at(timezone.now()) != Phase.ARCHIVEE:
        return ""
    return refus_de_phase(campagne, Phase.ARCHIVEE, ETABLISSEMENT, DEMANDE)


@dataclass
class Bandeau:
    campagne: Campagne
    phase: Phase
    description: str
    fin: datetime.datetime | None
    fin_texte: str
    actions: bool
    calendrier: list


def bandeau(campagne: Campagne | None) -> Bandeau | None:
    """The campaign's phase and dates, shown on every page."""
    if campagne is None:
        return None
    now = timezone.now()
    phase = campagne.phase_at(now)
    fin = campagne.phase_end(now)
    calendrier = [
        (
            "Ouverture aux établissements",
            f"du {format_jour(campagne.date_ouverture)} au {format_jour(campagne.date_cloture)}",
        ),
        (
            "Validation par les services",
            f"du {format_jour(campagne.date_cloture + datetime.timedelta(days=1))} "
            f"au {format_jour(campagne.date_fin_validation)}",
        ),
        (
            "Consultation",
            f"du {format_jour(campagne.date_debut_consultation)} au {format_jour(campagne.date_fin_consultation)}",
        ),
    ]
    return Bandeau(
        campagne=campagne,
        phase=phase,
        description=DESCRIPTION_PHASE[phase],
        fin=fin,
        fin_texte=format_instant(fin) if fin else "",
        actions=phase in PHASES_D_ACTION,
        calendrier=calendrier,
    )


def temps_restant(echeance: datetime.datetime, instant=None) -> str:
    """« 2 j 5 h », « 3 h 20 min », « moins d'une minute », or « échue »."""
    reste = echeance - (instant or timezone.now())
    if reste <= datetime.timedelta(0):
        return "échue"
    minutes = int(reste.total_seconds() // 60)
    jours, minutes = divmod(minutes, 24 * 60)
    heures, minutes = divmod(minutes, 60)
    if jours:
        return f"{jours} j {heures} h"
    if heures:
        return f"{heures} h {minutes:02d} min"
    return f"{minutes} min" if minutes else "moins d'une minute"


# --- Who the user acts for --------------------------------------------------------------------


def etablissements_de(user) -> list[Etablissement]:
    """The schools a head acts for (several for a cité scolaire), by UAI."""
    return lectures.etablissements_et_campagne(user)[0]


def etablissements_de_la_demande(demande: Demande) -> set[int]:
    """The schools concerned by a request: the requester's, the requested BMP's or the requested jumelage's."""
    ids = {demande.bmp.etablissement_id}
    if demande.cible_id:
        ids.add(demande.cible.etablissement_id)
    if demande.cible_jumelage_id:
        ids |= set(
            JumelageBMP.objects.filter(jumelage_id=demande.cible_jumelage_id).values_list("etablissement_id", flat=True)
        )
    return ids


def etablissements_du_jumelage(jumelage: Jumelage) -> set[int]:
    """Every school that has been in the jumelage (its history stays visible to them)."""
    return set(jumelage.appartenances.values_list("etablissement_id", flat=True))


# --- Mes BMP ------------------------------------------------------------------------------------

LIBRE, DEMANDE_EN_COURS, JUMELE, RETIRE = "libre", "demande", "jumele", "retire"
LIBELLE_ETAT = {
    LIBRE: "Libre",
    DEMANDE_EN_COURS: "Demande en cours",
    JUMELE: "Jumelé",
    RETIRE: "Retiré par l'actualisation",
}
CLASSE_ETAT = {
    LIBRE: "fr-badge--info",
    DEMANDE_EN_COURS: "fr-badge--new",
    JUMELE: "fr-badge--success",
    RETIRE: "fr-badge--error",
}


@dataclass
class Construction:
    """Who built a jumelage: my school, a partner, or a service (with its UAI)."""

    par: str  # "moi", "partenaire", "service"
    texte: str


@dataclass
class VueJumelage:
    jumelage: Jumelage
    membres: list  # JumelageBMP with bmp and etablissement
    construction: Construction | None = None

    @property
    def cible(self) -> int:
        return self.jumelage.discipline.heures_temps_plein

    @property
    def total(self) -> str:
        return format_heures(self.jumelage.total_heures)

    @property
    def complet(self) -> bool:
        return len(self.membres) >= 3

    @property
    def ecart(self) -> str:
        ecart = self.jumelage.total_heures - self.cible
        if ecart == 0:
            return "temps plein atteint"
        if ecart > 0:
            return f"{format_heures(ecart)} au-dessus du temps plein"
        return f"{format_heures(-ecart)} sous le temps plein"


@dataclass
class LigneBMP:
    bmp: BMP
    etat: str
    jumelage: VueJumelage | None = None
    envoyees: list = field(default_factory=list)
    recues: list = field(default_factory=list)

    @property
    def libelle_etat(self) -> str:
        return LIBELLE_ETAT[self.etat]

    @property
    def classe_etat(self) -> str:
        return CLASSE_ETAT[self.etat]

    @property
    def heures(self) -> str:
        return format_heures(self.bmp.heures)

    @property
    def peut_chercher(self) -> bool:
        """A free BMP, or one in a jumelage of two, may look for a partner."""
        return self.bmp.actif and (self.jumelage is None or not self.jumelage.complet)


@dataclass
class Discipline:
    discipline: object
    lignes: list


def _construction(jumelage: Jumelage, evenement: Evenement | None, etablissement: Etablissement) -> Construction:
    if evenement is None:
        return Construction("service", "un service de gestion des moyens")
    if evenement.type == TypeEvenement.JUMELAGE_CREE or jumelage.origine == OrigineJumelage.SERVICE:
        if evenement.pour_service_id:
            service = evenement.pour_service
            return Construction("service", f"le service {service.nom} ({service.uai})")
        return Construction("service", "l'administration de JUMO")
    demandeur = evenement.demande.bmp.etablissement if evenement.demande_id else evenement.pour_etablissement
    if demandeur is not None and demandeur.pk == etablissement.pk:
        return Construction("moi", f"mon établissement, {demandeur.nom} ({demandeur.uai}), par une demande acceptée")
    if demandeur is not None:
        return Construction("partenaire", f"un partenaire, {demandeur.nom} ({demandeur.uai}), par une demande acceptée")
    return Construction("partenaire", "un partenaire")


def vues_jumelages(jumelage_ids, etablissement: Etablissement, construction=True) -> dict[int, VueJumelage]:
    """The jumelages with their active members and who built them: two queries (one without
    `construction`; none without jumelage)."""
    jumelage_ids = sorted(set(jumelage_ids))
    if not jumelage_ids:
        return {}
    vues = {}
    for a in lectures.membres(jumelage_ids):
        vues.setdefault(a.jumelage_id, VueJumelage(a.jumelage, [])).membres.append(a)
    if construction:
        premiers = lectures.premiers_evenements(jumelage_ids)
        for pk, vue in vues.items():
            vue.construction = _construction(vue.jumelage, premiers.get(pk), etablissement)
    return vues


def mes_bmp(etablissement: Etablissement, campagne: Campagne) -> list[Discipline]:
    """The school's BMPs of the campaign by discipline, with their state, jumelage and pending
    requests: four queries at most (web.lectures)."""
    bmps = lectures.bmps_de(etablissement, campagne)
    ids = [b.pk for b in bmps]
    vues = vues_jumelages([b.jumelage_actif_id for b in bmps if b.jumelage_actif_id], etablissement)
    jumelage_de = {a.bmp_id: vue for vue in vues.values() for a in vue.membres}
    now = timezone.now()
    demandes = lectures.demandes_en_attente(ids, list(vues), now) if ids else []
    lignes = {}
    for b in bmps:
        vue = jumelage_de.get(b.pk)
        etat = RETIRE if not b.actif else JUMELE if vue else LIBRE
        lignes[b.pk] = LigneBMP(b, etat, vue)
    for d in demandes:
        if d.bmp_id in lignes:
            lignes[d.bmp_id].envoyees.append(d)
        recue_par = d.cible_id if d.cible_id in lignes else None
        if recue_par is None and d.cible_jumelage_id in vues:
            recue_par = next(a.bmp_id for a in vues[d.cible_jumelage_id].membres if a.bmp_id in lignes)
        if recue_par is not None and d.bmp_id not in lignes:
            lignes[recue_par].recues.append(d)
    for ligne in lignes.values():
        if ligne.etat == LIBRE and (ligne.envoyees or ligne.recues):
            ligne.etat = DEMANDE_EN_COURS
        for d in ligne.envoyees + ligne.recues:
            d.reste = temps_restant(d.echeance, now)
    par_discipline = {}
    for b in bmps:
        par_discipline.setdefault(b.discipline_id, Discipline(b.discipline, [])).lignes.append(lignes[b.pk])
    return list(par_discipline.values())


# --- Trouver un partenaire ------------------------------------------------------------------------

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


def _contexte_du_bmp(bmp: BMP, etablissement: Etablissement) -> Recherche:
    """Free BMP: free partners or a jumelage of two; in a jumelage of two: a free third (DOMAIN.md)."""
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


def _numero(page) -> int:
    """The page asked for: 1 when it is not a positive number (the last one is found later)."""
    try:
        numero = int(page)
    except (TypeError, ValueError):
        return 1
    return min(max(numero, 1), PAGE_MAX)


def rechercher_partenaires(
    bmp: BMP, etablissement: Etablissement, filtres: dict, *, page=1, par_page=20, exclure_pks=(), seulement=None
) -> Recherche:
    """Trouver un partenaire (DOMAIN.md "Geography"): the BMPs of the same discipline and campaign in
    other schools, free or in a jumelage of two (to make three), with distances and zones.

    `filtres` holds the form's values (web.filters.PartenaireFilter.valeurs). The database filters,
    orders by spherical distance (or closeness to the full time, then distance) and returns the
    first rows of the list up to a little past the page (web.recherche); the geodesic distance
    (geopy) is computed for the rows shown, which are put in exact geodesic order, and for the rows
    near a maximum distance. `seulement`: the row of that BMP only (the request form).
    """
    recherche = _contexte_du_bmp(bmp, etablissement)
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

    numero = _numero(page)
    limite = numero * par_page + MARGE
    while True:
        if distance_max is not None and origine is None:
            rows = []  # no position: no distance can be checked
        else:
            rows = recherche_sql.lignes(criteres, limite)
        epuise = len(rows) < limite
        candidats = [_candidat(row, recherche) for row in rows]
        if distance_max is not None:
            candidats = geo.within(candidats, float(distance_max), exact)
        if epuise:  # the whole list is read: a page past its end is its last page
            numero = min(numero, max(1, -(-len(candidats) // par_page)))
        debut, fin = (numero - 1) * par_page, numero * par_page
        groupes = _groupes(candidats, par_cible)
        if epuise or _assez(groupes, len(candidats), fin):
            break
        limite *= 4
    _affiner(groupes, debut, fin, exact)
    liste = [c for groupe in groupes for c in groupe]
    recherche.page = PageCandidats(liste[debut:fin], numero, par_page, len(liste) > fin, len(liste) if epuise else None)
    for c in recherche.page.object_list:
        if c.approx is not None:
            exact(c)
    _details(recherche, etablissement)
    return recherche


def _candidat(row, recherche: Recherche) -> Candidat:
    pk, etab, heures, lat, lon, position, commune, jumelage_id, total_jumelage, approx, ecart = row
    # Hours are hundredths at most: floats rounded back to them, as shown.
    heures = float(heures)
    total = round(float(recherche.base) + (float(total_jumelage) if jumelage_id else heures), 2)
    ecart_float = round(abs(total - recherche.cible), 2)
    candidat = Candidat(pk, etab, heures, lat, lon, position, commune, jumelage_id, total, ecart_float, approx=approx)
    candidat.cle_ecart = ecart
    return candidat


def _groupes(candidats: list, par_cible: bool) -> list[list]:
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


def _assez(groupes: list[list], nombre: int, fin: int) -> bool:
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


def _affiner(groupes: list[list], debut: int, fin: int, exact) -> None:
    """Make positions [debut, fin) exact: geodesic order inside each group that overlaps them."""
    position = 0
    for groupe in groupes:
        bas, haut = max(debut - position, 0), min(fin - position, len(groupe))
        if bas < haut and groupe[0].approx is not None:
            geo.refine_window(groupe, bas, haut, exact)
        position += len(groupe)


def _details(recherche: Recherche, etablissement: Etablissement) -> None:
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


# --- Demandes ---------------------------------------------------------------------------------------

PLAFOND_DEMANDES = 100


def _avec_membres(demandes: list) -> list:
    """Attach the active members of each requested jumelage (one query) and the time left."""
    membres = defaultdict(list)
    for a in (
        JumelageBMP.objects.filter(jumelage_id__in={d.cible_jumelage_id for d in demandes if d.cible_jumelage_id})
        .filter(actif=True)
        .select_related("etablissement", "bmp")
        .order_by("position")
    ):
        membres[a.jumelage_id].append(a)
    now = timezone.now()
    for d in demandes:
        d.membres_cible = membres.get(d.cible_jumelage_id, [])
        d.etat_vu = d.etat_effectif
        d.reste = temps_restant(d.echeance, now) if d.etat_vu == EtatDemande.EN_ATTENTE else ""
        d.total_propose = format_heures(
            d.bmp.heures + (d.cible.heures if d.cible_id else sum((a.bmp.heures for a in d.membres_cible), Decimal(0)))
        )
    return demandes


def _demandes():
    return Demande.objects.select_related(
        "campagne",  # Demande.etat_effectif reads the campaign's closing
        "bmp__etablissement__commune",
        "bmp__discipline",
        "cible__etablissement__commune",
        "cible_jumelage",
    )


def demandes_de(etablissement: Etablissement, campagne: Campagne) -> tuple[list, list]:
    """The requests received and sent by the school in the campaign, pending first, then the latest."""
    mes_jumelages = JumelageBMP.objects.filter(etablissement=etablissement, actif=True).values("jumelage_id")
    ordre = ("-etat_pending", "-envoyee_le")
    base = _demandes().filter(campagne=campagne)
    en_attente = When(etat=EtatDemande.EN_ATTENTE, then=Value(1))
    base = base.annotate(etat_pending=Case(en_attente, default=Value(0), output_field=IntegerField()))
    recues = list(
        base.filter(Q(cible__etablissement=etablissement) | Q(cible_jumelage_id__in=mes_jumelages))
        .exclude(bmp__etablissement=etablissement)
        .order_by(*ordre)[:PLAFOND_DEMANDES]
    )
    envoyees = list(base.filter(bmp__etablissement=etablissement).order_by(*ordre)[:PLAFOND_DEMANDES])
    _avec_membres(recues + envoyees)
    return recues, envoyees


def demande_detail(pk: int) -> Demande:
    return _avec_membres([_demandes().get(pk=pk)])[0]


def peut_repondre(demande: Demande, etablissement: Etablissement) -> bool:
    """The school is the one asked (the requested BMP's, or one of the requested jumelage's)."""
    if demande.cible_id:
        return demande.cible.etablissement_id == etablissement.pk
    return any(a.etablissement_id == etablissement.pk for a in demande.membres_cible)


# --- A jumelage and its history -----------------------------------------------------------------------


def jumelage_detail(pk: int, etablissement: Etablissement) -> VueJumelage:
    jumelage = Jumelage.objects.select_related("discipline", "rattachement", "campagne", "supprime_par").get(pk=pk)
    vue = vues_jumelages([pk], etablissement).get(pk) or VueJumelage(jumelage, [])
    vue.jumelage = jumelage
    if not vue.membres:  # deleted: show who was in it
        vue.membres = list(jumelage.appartenances.select_related("bmp", "etablissement__commune").order_by("position"))
    return vue


def historique(jumelage: Jumelage) -> list[Evenement]:
    """Who did what and when, for which school or service: the jumelage's events and its requests'."""
    return list(
        Evenement.objects.filter(
            Q(jumelage=jumelage) | Q(demande__jumelage=jumelage) | Q(demande__cible_jumelage=jumelage)
        )
        .select_related("auteur", "pour_etablissement", "pour_service", "demande__bmp__etablissement")
        .distinct()
        .order_by("date", "pk")
    )


def historique_demande(demande: Demande) -> list[Evenement]:
    return list(
        Evenement.objects.filter(demande=demande)
        .select_related("auteur", "pour_etablissement", "pour_service")
        .order_by("date", "pk")
    )
