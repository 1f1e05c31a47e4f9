"""The hottest reads of the heads' pages, in SQL written once (web.db): each is a join that Django
would compile again at every request, for more time than the database takes to run it. They
return model instances, as the equivalent querysets would (select_related included).
"""

from bmp.models import BMP, Campagne
from establishments.models import Commune, Discipline, Etablissement, Service
from jumelages.enums import EtatDemande, TypeEvenement
from jumelages.models import Demande, Evenement, Jumelage, JumelageBMP

from .db import Columns, any_of, fetch_rows
from .tables import (
    BMP_TABLE,
    CAMPAGNE_TABLE,
    COMMUNE_TABLE,
    DEMANDE_TABLE,
    DISCIPLINE_TABLE,
    ETABLISSEMENT_TABLE,
    EVENEMENT_TABLE,
    JUMELAGE_BMP_TABLE,
    JUMELAGE_TABLE,
    NOTIFICATION_TABLE,
    PROFIL_ETABLISSEMENT_TABLE,
    PROFIL_TABLE,
    SERVICE_TABLE,
    ZONE_COMMUNE_TABLE,
    ZONE_TABLE,
)


def _instances(sql: str, params, *columns: Columns):
    """The rows, each cut into the instances of `columns` (in the SELECT's order), then the rest."""
    resultat = []
    for row in fetch_rows(sql, params):
        objets, debut = [], 0
        for c in columns:
            objets.append(c.instance(row, debut))
            debut += c.width
        resultat.append((*objets, *row[debut:]))
    return resultat


# --- Who acts, and the campaign ------------------------------------------------------------------

_E, _C, _CA = Columns(Etablissement, "e"), Columns(Commune, "c"), Columns(Campagne, "ca")


def etablissements_et_campagne(user) -> tuple[list[Etablissement], Campagne | None]:
    """The user's schools by UAI, with their communes and their unread notifications' count
    (`non_lues`, shown in every page's header), and the campaign of the latest rentrée: one query
    (None for the campaign when the user has no school)."""
    sql = (
        f"SELECT {_E}, {_C}, {_CA}, (SELECT COUNT(*) FROM {NOTIFICATION_TABLE} n "
        "WHERE n.etablissement_id = e.id AND NOT n.lue) "
        f"FROM {PROFIL_ETABLISSEMENT_TABLE} pe "
        f"JOIN {PROFIL_TABLE} p ON p.id = pe.profil_id "
        f"JOIN {ETABLISSEMENT_TABLE} e ON e.id = pe.etablissement_id "
        f"JOIN {COMMUNE_TABLE} c ON c.id = e.commune_id "
        f"LEFT JOIN (SELECT * FROM {CAMPAGNE_TABLE} ORDER BY annee DESC LIMIT 1) ca ON 1 = 1 "
        "WHERE p.utilisateur_id = %s ORDER BY e.uai"
    )
    etablissements, campagne = [], None
    for etablissement, commune, derniere, non_lues in _instances(sql, [user.pk], _E, _C, _CA):
        etablissement.commune = commune
        etablissement.non_lues = non_lues
        etablissements.append(etablissement)
        campagne = derniere
    return etablissements, campagne


# --- A BMP of mine ----------------------------------------------------------------------------------

_B, _D = Columns(BMP, "b"), Columns(Discipline, "d")


def bmp(pk: int) -> BMP | None:
    """The BMP with its discipline, campaign and school, and `jumelage_actif_id`: its active
    jumelage's id (or None)."""
    sql = (
        f"SELECT {_B}, {_D}, {_CA}, {_E}, m.jumelage_id FROM {BMP_TABLE} b "
        f"JOIN {DISCIPLINE_TABLE} d ON d.id = b.discipline_id "
        f"JOIN {CAMPAGNE_TABLE} ca ON ca.id = b.campagne_id "
        f"JOIN {ETABLISSEMENT_TABLE} e ON e.id = b.etablissement_id "
        f"LEFT JOIN {JUMELAGE_BMP_TABLE} m ON m.bmp_id = b.id AND m.actif "
        "WHERE b.id = %s"
    )
    for objet, discipline, campagne, etablissement, jumelage_id in _instances(sql, [pk], _B, _D, _CA, _E):
        objet.discipline, objet.campagne, objet.etablissement = discipline, campagne, etablissement
        objet.jumelage_actif_id = jumelage_id
        return objet
    return None


def bmps_de(etablissement: Etablissement, campagne: Campagne) -> list[BMP]:
    """The school's current BMPs of the campaign, by discipline code and identifiant, with their
    discipline and `jumelage_actif_id`."""
    sql = (
        f"SELECT {_B}, {_D}, m.jumelage_id FROM {BMP_TABLE} b "
        f"JOIN {DISCIPLINE_TABLE} d ON d.id = b.discipline_id "
        f"LEFT JOIN {JUMELAGE_BMP_TABLE} m ON m.bmp_id = b.id AND m.actif "
        "WHERE b.campagne_id = %s AND b.etablissement_id = %s AND b.remplace_par_id IS NULL "
        "ORDER BY d.code, b.identifiant"
    )
    bmps = []
    for objet, discipline, jumelage_id in _instances(sql, [campagne.pk, etablissement.pk], _B, _D):
        objet.discipline = discipline
        objet.jumelage_actif_id = jumelage_id
        bmps.append(objet)
    return bmps


# --- Jumelages ---------------------------------------------------------------------------------------

_M, _J = Columns(JumelageBMP, "m"), Columns(Jumelage, "j")


def membres(jumelage_ids) -> list[JumelageBMP]:
    """The active members of these jumelages, by jumelage and position, with their BMP, school and
    commune, and their jumelage with its discipline."""
    condition, params = any_of("m.jumelage_id", jumelage_ids)
    sql = (
        f"SELECT {_M}, {_B}, {_E}, {_C}, {_J}, {_D} FROM {JUMELAGE_BMP_TABLE} m "
        f"JOIN {BMP_TABLE} b ON b.id = m.bmp_id "
        f"JOIN {ETABLISSEMENT_TABLE} e ON e.id = m.etablissement_id "
        f"JOIN {COMMUNE_TABLE} c ON c.id = e.commune_id "
        f"JOIN {JUMELAGE_TABLE} j ON j.id = m.jumelage_id "
        f"JOIN {DISCIPLINE_TABLE} d ON d.id = j.discipline_id "
        f"WHERE m.actif AND {condition} ORDER BY m.jumelage_id, m.position"
    )
    resultat, jumelages = [], {}
    for membre, objet, etablissement, commune, jumelage, discipline in _instances(sql, params, _M, _B, _E, _C, _J, _D):
        etablissement.commune = commune
        jumelage.discipline = discipline
        membre.bmp, membre.etablissement = objet, etablissement
        membre.jumelage = jumelages.setdefault(jumelage.pk, jumelage)  # one instance per jumelage
        resultat.append(membre)
    return resultat


_EV = Columns(Evenement, "ev")
_PE, _PS = Columns(Etablissement, "pe"), Columns(Service, "ps")
_DM, _DB, _DE = Columns(Demande, "dm"), Columns(BMP, "db"), Columns(Etablissement, "de")


def premiers_evenements(jumelage_ids) -> dict[int, Evenement]:
    """The first event that made each jumelage (created, or a request accepted), with the school or
    service it was done for and the request with its BMP's school."""
    condition, params = any_of("ev.jumelage_id", jumelage_ids)
    sql = (
        f"SELECT {_EV}, {_PE}, {_PS}, {_DM}, {_DB}, {_DE} FROM {EVENEMENT_TABLE} ev "
        f"LEFT JOIN {ETABLISSEMENT_TABLE} pe ON pe.id = ev.pour_etablissement_id "
        f"LEFT JOIN {SERVICE_TABLE} ps ON ps.id = ev.pour_service_id "
        f"LEFT JOIN {DEMANDE_TABLE} dm ON dm.id = ev.demande_id "
        f"LEFT JOIN {BMP_TABLE} db ON db.id = dm.bmp_id "
        f"LEFT JOIN {ETABLISSEMENT_TABLE} de ON de.id = db.etablissement_id "
        f"WHERE {condition} AND ev.type IN (%s, %s) ORDER BY ev.date, ev.id"
    )
    params += [TypeEvenement.JUMELAGE_CREE, TypeEvenement.DEMANDE_ACCEPTEE]
    premiers = {}
    for evenement, pour_etablissement, pour_service, demande, demandeur, etablissement in _instances(
        sql, params, _EV, _PE, _PS, _DM, _DB, _DE
    ):
        if evenement.jumelage_id in premiers:
            continue
        evenement.pour_etablissement, evenement.pour_service = pour_etablissement, pour_service
        if demande is not None:
            demandeur.etablissement = etablissement
            demande.bmp = demandeur
        evenement.demande = demande
        premiers[evenement.jumelage_id] = evenement
    return premiers


# --- Requests -------------------------------------------------------------------------------------

_DD = Columns(Demande, "d")
_B1, _E1 = Columns(BMP, "b1"), Columns(Etablissement, "e1")
_B2, _E2 = Columns(BMP, "b2"), Columns(Etablissement, "e2")


def demandes_en_attente(bmp_ids, jumelage_ids, instant) -> list[Demande]:
    """The pending requests before their deadline sent by these BMPs or to them or to these
    jumelages, by deadline, with the requesting and requested BMPs and their schools."""
    par, params = any_of("d.bmp_id", bmp_ids)
    vers, vers_params = any_of("d.cible_id", bmp_ids)
    vers_jumelage, jumelage_params = any_of("d.cible_jumelage_id", jumelage_ids)
    sql = (
        f"SELECT {_DD}, {_B1}, {_E1}, {_B2}, {_E2} FROM {DEMANDE_TABLE} d "
        f"JOIN {BMP_TABLE} b1 ON b1.id = d.bmp_id "
        f"JOIN {ETABLISSEMENT_TABLE} e1 ON e1.id = b1.etablissement_id "
        f"LEFT JOIN {BMP_TABLE} b2 ON b2.id = d.cible_id "
        f"LEFT JOIN {ETABLISSEMENT_TABLE} e2 ON e2.id = b2.etablissement_id "
        f"WHERE d.etat = %s AND d.echeance > %s AND ({par} OR {vers} OR {vers_jumelage}) ORDER BY d.echeance"
    )
    params = [EtatDemande.EN_ATTENTE, instant, *params, *vers_params, *jumelage_params]
    demandes = []
    rows = _instances(sql, params, _DD, _B1, _E1, _B2, _E2)
    for demande, demandeur, etablissement, cible, etablissement_cible in rows:
        demandeur.etablissement = etablissement
        demande.bmp = demandeur
        if cible is not None:
            cible.etablissement = etablissement_cible
        demande.cible = cible
        demandes.append(demande)
    return demandes


# --- The rows of the partner search ------------------------------------------------------------------


def etablissements_et_zones(etablissement_ids) -> tuple[dict, dict, list]:
    """These schools with their communes; the zones of their communes ({commune: [(zone id, code,
    libellé)] by code}); and the codes, in order, of the zones that are some commune's first one
    (by code): one colour each on the map (a pass over the communes' zones, a few hundred rows)."""
    condition, params = any_of("e.id", etablissement_ids)
    vides = ", ".join(["NULL"] * (_E.width + _C.width))
    sql = (
        f"SELECT 0, {_E}, {_C}, z.id, z.code, z.libelle FROM {ETABLISSEMENT_TABLE} e "
        f"JOIN {COMMUNE_TABLE} c ON c.id = e.commune_id "
        f"LEFT JOIN {ZONE_COMMUNE_TABLE} t ON t.commune_id = c.id "
        f"LEFT JOIN {ZONE_TABLE} z ON z.id = t.zoneremplacement_id WHERE {condition} "
        f"UNION ALL SELECT 1, {vides}, NULL, f.code, NULL FROM (SELECT DISTINCT MIN(z.code) AS code "
        f"FROM {ZONE_COMMUNE_TABLE} t JOIN {ZONE_TABLE} z ON z.id = t.zoneremplacement_id GROUP BY t.commune_id) f"
    )
    etablissements, zones, codes = {}, {}, []
    for row in fetch_rows(sql, params):
        if row[0] == 1:
            codes.append(row[-2])
            continue
        etablissement = etablissements.get(row[1])
        if etablissement is None:
            etablissement = _E.instance(row, 1)
            etablissement.commune = _C.instance(row, 1 + _E.width)
            etablissements[etablissement.pk] = etablissement
            zones.setdefault(etablissement.commune_id, [])
        zone_id, code, libelle = row[-3:]
        if zone_id is not None and (zone_id, code, libelle) not in zones[etablissement.commune_id]:
            zones[etablissement.commune_id].append((zone_id, code, libelle))
    for liste in zones.values():
        liste.sort(key=lambda zone: zone[1])
    return etablissements, zones, sorted(codes)


def partenaires_et_demandes(jumelage_ids, bmp, instant) -> tuple[dict, set]:
    """The active members of these jumelages ({jumelage: [JumelageBMP with BMP and school]} by
    position), and what the BMP's pending requests ask for: ("bmp", id) or ("jumelage", id)."""
    condition, params = any_of("m.jumelage_id", jumelage_ids)
    vides = ", ".join(["NULL"] * (_M.width + _B.width + _E.width))
    sql = (
        f"SELECT 0, {_M}, {_B}, {_E}, NULL, NULL FROM {JUMELAGE_BMP_TABLE} m "
        f"JOIN {BMP_TABLE} b ON b.id = m.bmp_id JOIN {ETABLISSEMENT_TABLE} e ON e.id = m.etablissement_id "
        f"WHERE m.actif AND {condition} "
        f"UNION ALL SELECT 1, {vides}, d.cible_id, d.cible_jumelage_id FROM {DEMANDE_TABLE} d "
        "WHERE d.bmp_id = %s AND d.etat = %s AND d.echeance > %s"
    )
    params += [bmp.pk, EtatDemande.EN_ATTENTE, instant]
    membres, cibles = {}, set()
    for row in fetch_rows(sql, params):
        if row[0] == 1:
            cible_id, cible_jumelage_id = row[-2:]
            cibles.add(("bmp", cible_id) if cible_id else ("jumelage", cible_jumelage_id))
            continue
        membre = _M.instance(row, 1)
        membre.bmp = _B.instance(row, 1 + _M.width)
        membre.etablissement = _E.instance(row, 1 + _M.width + _B.width)
        membres.setdefault(membre.jumelage_id, []).append(membre)
    for liste in membres.values():
        liste.sort(key=lambda membre: membre.position)
    return membres, cibles
