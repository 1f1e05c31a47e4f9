"""The workflow of requests and jumelages (DOMAIN.md "The campaign calendar", "Jumelages and requests").

Every rule, every transaction and every lock lives here; views, admin, tasks and commands
call these functions. A refusal raises WorkflowError, whose message is the French sentence
the user sees.

Locks. Rows are locked in one order everywhere, so that concurrent operations cannot
deadlock: the BMP rows by primary key, then the jumelages by primary key, then the
requests by primary key. An operation holding a request's lock never waits for a BMP's
or a jumelage's. The sweeps (expiry, closing) lock requests with SKIP LOCKED and so never
wait at all. Rows are locked FOR NO KEY UPDATE, which does not conflict with the KEY SHARE
lock PostgreSQL takes when a new row (an event, a membership) refers to a locked row.

Events. Each operation records Evenement rows in its transaction and announces them with
jumelages.signals (see there): the operation's own event with `evenement_enregistre`, the
events recorded in bulk (sweeps, side effects) with `evenements_enregistres`.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from bmp.enums import Phase
from bmp.models import BMP, PARIS, Campagne
from establishments.models import Commune, Discipline, Etablissement, Service

from .enums import EtatDemande, Motif, OrigineJumelage, TypeEvenement
from .models import (
    Demande,
    Evenement,
    EvenementBMP,
    EvenementEtablissement,
    EvenementService,
    Jumelage,
    JumelageBMP,
    avertissement_total,
    format_heures,
    instant_de_cloture,
)
from .perimetres import service_of
from .signals import evenement_enregistre, evenements_enregistres


class WorkflowError(Exception):
    """A refusal of the workflow; str(error) is the French sentence shown to the user."""

    @property
    def message(self) -> str:
        return str(self)


# --- Dates in French ------------------------------------------------------------------

MOIS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]


def format_instant(instant: datetime.datetime) -> str:
    """« 27 juin 2024 à 00 h 00 », « 1er juillet 2024 à 00 h 00 » (Paris time)."""
    local = instant.astimezone(PARIS)
    jour = "1er" if local.day == 1 else str(local.day)
    return f"{jour} {MOIS[local.month - 1]} {local.year} à {local:%H} h {local:%M}"


def delai_reponse() -> datetime.timedelta:
    return datetime.timedelta(hours=settings.JUMO_DELAI_REPONSE_HEURES)


def total_maximum() -> Decimal | None:
    """The optional hard maximum of a jumelage's hours (off by default, DOMAIN.md our decision)."""
    value = getattr(settings, "JUMO_TOTAL_MAX_HEURES", None)
    return None if value in (None, "") else Decimal(str(value))


# --- Who acts, and when (DOMAIN.md "Users" and "The campaign calendar") ------------------

ETABLISSEMENT, SERVICE, SUPERUTILISATEUR = "etablissement", "service", "superutilisateur"

DEMANDE, SUPPRESSION, CONSTRUCTION, RATTACHEMENT, VALIDATION = (
    "demande",
    "suppression",
    "construction",
    "rattachement",
    "validation",
)

# The calendar's table: in which phases each kind of actor may do each operation. A
# superuser follows the services' calendar, everywhere.
PHASES_PERMISES = {
    (ETABLISSEMENT, DEMANDE): {Phase.OUVERTE},
    (ETABLISSEMENT, SUPPRESSION): {Phase.OUVERTE},
    (SERVICE, DEMANDE): {Phase.OUVERTE},
    (SERVICE, SUPPRESSION): {Phase.PREPARATION, Phase.OUVERTE},
    (SERVICE, CONSTRUCTION): {Phase.PREPARATION, Phase.OUVERTE},
    (SERVICE, RATTACHEMENT): {Phase.PREPARATION, Phase.OUVERTE},
    (SERVICE, VALIDATION): {Phase.VALIDATION},
}

RESERVE_AUX_SERVICES = {
    CONSTRUCTION: "Seuls les services de gestion des moyens construisent des jumelages : "
    "un établissement adresse une demande à un autre établissement.",
    RATTACHEMENT: "Seuls les services de gestion des moyens peuvent changer l'établissement de rattachement.",
    VALIDATION: "Seuls les services de gestion des moyens valident les jumelages.",
}

INTRODUCTION = {
    Phase.PREPARATION: "La campagne est en phase de préparation",
    Phase.OUVERTE: "La campagne est ouverte",
    Phase.VALIDATION: "La campagne est en phase de validation",
    Phase.CONSULTATION: "La campagne est en phase de consultation",
    Phase.ARCHIVEE: "La campagne est archivée",
}


@dataclass(frozen=True)
class Acteur:
    """Who performs an operation: a head for one school, an agent for a service, or a superuser."""

    utilisateur: object
    role: str
    etablissement: Etablissement | None = None
    service: Service | None = None


def _liste(etablissements) -> str:
    return ", ".join(str(e) for e in etablissements)


def _acteur(user, etablissements, *, tous=False, refus="") -> Acteur:
    """Resolve who `user` acts as for an operation concerning `etablissements`.

    DOMAIN.md "Users": an agent acts within the perimeter of his service (for every
    school when `tous`, else for at least one of them); a superuser acts everywhere; a
    head acts for one of his schools among them.
    """
    etablissements = sorted(set(etablissements), key=lambda e: e.uai)
    profil = getattr(user, "profil", None)
    service = service_of(user)
    if service is not None:
        hors = [e for e in etablissements if not service.couvre(e)]
        if not hors or (not tous and len(hors) < len(etablissements)):
            return Acteur(user, SERVICE, service=service)
    if user.is_superuser:
        return Acteur(user, SUPERUTILISATEUR)
    if profil is not None:
        miens = set(profil.etablissements.filter(pk__in=[e.pk for e in etablissements]).values_list("pk", flat=True))
        for etablissement in etablissements:
            if etablissement.pk in miens:
                return Acteur(user, ETABLISSEMENT, etablissement=etablissement)
    if service is not None:
        if tous or len(hors) == 1:
            raise WorkflowError(f"{hors[0]} n'est pas dans le périmètre de {service}.")
        raise WorkflowError(
            f"Aucun des établissements concernés ({_liste(hors)}) n'est dans le périmètre de {service}."
        )
    raise WorkflowError(refus or f"Vous n'êtes pas habilité à agir pour {_liste(etablissements)}.")


def refus_de_phase(campagne: Campagne, phase: Phase, role: str, operation: str) -> str:
    """The French sentence saying why the phase forbids the operation, and since or until when."""
    ouverture, cloture, consultation, archive = (format_instant(start) for start, _phase in campagne.boundaries())
    if role == ETABLISSEMENT:
        suite = {
            Phase.PREPARATION: f"les établissements ne peuvent pas encore agir, la campagne ouvre le {ouverture}.",
            Phase.VALIDATION: f"les établissements ne peuvent plus modifier les jumelages depuis le {cloture}.",
            Phase.CONSULTATION: f"les établissements ne peuvent plus modifier les jumelages depuis le {cloture}.",
            Phase.ARCHIVEE: f"les établissements n'y ont plus accès depuis le {archive}.",
        }[phase]
    elif operation == VALIDATION:
        if phase in (Phase.PREPARATION, Phase.OUVERTE):
            suite = f"la validation des jumelages commence le {cloture}."
        else:
            suite = f"la validation des jumelages est close depuis le {consultation}."
    else:
        suite = {
            Phase.PREPARATION: f"les demandes entre établissements commencent à l'ouverture, le {ouverture}.",
            Phase.VALIDATION: f"les jumelages ne peuvent plus être modifiés depuis le {cloture}, "
            f"seulement validés jusqu'au {consultation}.",
            Phase.CONSULTATION: f"les jumelages sont en lecture seule depuis le {consultation}.",
            Phase.ARCHIVEE: f"les jumelages sont en lecture seule depuis le {archive}.",
        }[phase]
    return f"{INTRODUCTION[phase]} : {suite}"


def autoriser(user, operation: str, campagne: Campagne, etablissements, *, tous=False, refus="") -> Acteur:
    """Check, on the server, that `user` may do `operation` now (DOMAIN.md "The campaign calendar").

    Heads act only in the open phase; services build jumelages in préparation and
    ouverte, do everything in ouverte and validate in validation; everything else is read
    only; heads have no access once archived. The phase is computed from the campaign's
    dates and the current time in Europe/Paris.
    """
    if operation in RESERVE_AUX_SERVICES and not (user.is_superuser or service_of(user)):
        raise WorkflowError(RESERVE_AUX_SERVICES[operation])
    acteur = _acteur(user, etablissements, tous=tous, refus=refus)
    if acteur.role == ETABLISSEMENT and operation in RESERVE_AUX_SERVICES:
        raise WorkflowError(RESERVE_AUX_SERVICES[operation])
    role = ETABLISSEMENT if acteur.role == ETABLISSEMENT else SERVICE
    phase = campagne.phase_at(timezone.now())
    if phase not in PHASES_PERMISES[(role, operation)]:
        raise WorkflowError(refus_de_phase(campagne, phase, role, operation))
    return acteur


# --- Events ------------------------------------------------------------------------------


@dataclass
class _AEnregistrer:
    evenement: Evenement
    bmp_ids: set = field(default_factory=set)
    etablissement_ids: set = field(default_factory=set)
    service_ids: set = field(default_factory=set)


def _evenement(type_evenement, *, acteur: Acteur | None = None, date=None, **fields) -> Evenement:
    return Evenement(
        type=type_evenement,
        date=date or timezone.now(),
        auteur=acteur.utilisateur if acteur else None,
        pour_etablissement=acteur.etablissement if acteur else None,
        pour_service=acteur.service if acteur else None,
        **fields,
    )


def _enregistrer(items: list[_AEnregistrer], *, en_masse: bool) -> list[Evenement]:
    """Record events with their BMPs, schools and services concerned, in bulk, then announce them."""
    if not items:
        return []
    evenements = Evenement.objects.bulk_create([item.evenement for item in items])
    for through, champ, attribut in (
        (EvenementBMP, "bmp_id", "bmp_ids"),
        (EvenementEtablissement, "etablissement_id", "etablissement_ids"),
        (EvenementService, "service_id", "service_ids"),
    ):
        liens = [
            through(evenement_id=item.evenement.pk, **{champ: pk})
            for item in items
            for pk in sorted(getattr(item, attribut))
        ]
        if liens:
            through.objects.bulk_create(liens)
    for item in items:
        item.evenement.etablissement_ids = sorted(item.etablissement_ids)
        item.evenement.service_ids = sorted(item.service_ids)
    if en_masse:
        evenements_enregistres.send(sender=Evenement, evenements=evenements)
    else:
        for evenement in evenements:
            evenement_enregistre.send(sender=Evenement, evenement=evenement)
    return evenements


def _enregistrer_operation(type_evenement, *, bmp_ids, etablissement_ids, **fields) -> Evenement:
    """Record the event of an operation a user performed, and announce it (evenement_enregistre)."""
    item = _AEnregistrer(_evenement(type_evenement, **fields), set(bmp_ids), set(etablissement_ids))
    return _enregistrer([item], en_masse=False)[0]


# --- Locks and the state of the BMPs involved ----------------------------------------------


class _Reprise(Exception):
    """The set of rows to lock grew while we waited: start the operation again."""


def _avec_reprise(operation):
    for _essai in range(5):
        try:
            return operation()
        except _Reprise:
            continue
    raise WorkflowError("D'autres opérations modifient ces BMP au même moment : réessayez dans un instant.")


def _verrouiller_bmps(ids) -> set:
    return set(
        BMP.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk").values_list("pk", flat=True)
    )


def _verrouiller_jumelages(ids) -> dict:
    qs = Jumelage.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    return {j.pk: j for j in qs}


def _verrouiller_demande(pk) -> Demande:
    return (
        Demande.objects.select_for_update(no_key=True, of=("self",))
        .select_related("campagne", "bmp__etablissement", "cible__etablissement")
        .get(pk=pk)
    )


@dataclass
class _Situation:
    """The BMPs involved in some requests, their active jumelages and these jumelages' members."""

    bmps: dict
    jumelage_de: dict
    membres: dict
    jumelages: dict

    def etablissements(self, jumelage_id) -> list:
        return [self.bmps[b].etablissement for b in self.membres.get(jumelage_id, [])]


def _situation(bmp_ids, jumelage_ids) -> _Situation:
    bmp_ids = {pk for pk in bmp_ids if pk}
    jumelage_ids = {pk for pk in jumelage_ids if pk}
    jumelage_ids |= set(
        JumelageBMP.objects.filter(actif=True, bmp_id__in=bmp_ids).values_list("jumelage_id", flat=True)
    )
    membres, jumelage_de = defaultdict(list), {}
    for jumelage_id, bmp_id in (
        JumelageBMP.objects.filter(actif=True, jumelage_id__in=jumelage_ids)
        .order_by("position")
        .values_list("jumelage_id", "bmp_id")
    ):
        membres[jumelage_id].append(bmp_id)
        jumelage_de[bmp_id] = jumelage_id
    bmps = BMP.objects.select_related("etablissement").in_bulk(bmp_ids | set(jumelage_de))
    return _Situation(bmps, jumelage_de, membres, Jumelage.objects.in_bulk(jumelage_ids))


def _a_verrouiller(demande: Demande, s: _Situation) -> set:
    """The BMPs an answer to `demande` may change: both ends and the members of the jumelage it extends."""
    ids = {demande.bmp_id, demande.cible_id}
    ids |= set(s.membres.get(demande.cible_jumelage_id, []))
    ids |= set(s.membres.get(s.jumelage_de.get(demande.bmp_id), []))
    return {pk for pk in ids if pk}


def _depasse_maximum(bmps) -> str:
    maximum = total_maximum()
    total = sum((b.heures for b in bmps), Decimal(0))
    if maximum is not None and total > maximum:
        return f"le total ({format_heures(total)}) dépasserait le maximum autorisé ({format_heures(maximum)})"
    return ""


def _obstacle_extension(jumelage_id, nouveau: BMP, s: _Situation) -> str:
    """Why `nouveau` cannot become the third BMP of this jumelage, or ""."""
    jumelage = s.jumelages[jumelage_id]
    membres = [s.bmps[pk] for pk in s.membres.get(jumelage_id, [])]
    if not jumelage.actif:
        return f"le jumelage n° {jumelage.pk} a été supprimé"
    if len(membres) >= 3:
        return f"le jumelage n° {jumelage.pk} compte déjà trois BMP"
    for membre in membres:
        if not membre.actif:
            return f"le BMP {membre.identifiant} du jumelage a été retiré par l'actualisation des BMP"
    if nouveau.etablissement_id in {m.etablissement_id for m in membres}:
        return f"le jumelage n° {jumelage.pk} compte déjà un BMP de {nouveau.etablissement}"
    return _depasse_maximum([*membres, nouveau])


def _obstacle(demande: Demande, s: _Situation) -> str:
    """Why `demande` can no longer succeed, or "" (DOMAIN.md: caduque = made impossible).

    A request to a BMP pairs two free BMPs, or, when the requester said "jumelage à trois
    BMP" and its BMP has meanwhile joined a jumelage of two, brings the requested BMP in
    as the third. A request to a jumelage of two brings the requesting BMP in as the third.
    """
    demandeur = s.bmps[demande.bmp_id]
    if not demandeur.actif:
        return f"le BMP {demandeur.identifiant} a été retiré par l'actualisation des BMP"
    jumelage_du_demandeur = s.jumelage_de.get(demandeur.pk)
    if demande.cible_jumelage_id:
        if jumelage_du_demandeur is not None:
            return f"le BMP {demandeur.identifiant} fait désormais partie d'un jumelage"
        return _obstacle_extension(demande.cible_jumelage_id, demandeur, s)
    cible = s.bmps[demande.cible_id]
    if not cible.actif:
        return f"le BMP {cible.identifiant} a été retiré par l'actualisation des BMP"
    if cible.pk in s.jumelage_de:
        return f"le BMP {cible.identifiant} fait désormais partie d'un jumelage"
    if jumelage_du_demandeur is None:
        return _depasse_maximum([demandeur, cible])
    if not demande.trois:
        return f"le BMP {demandeur.identifiant} fait désormais partie d'un jumelage"
    return _obstacle_extension(jumelage_du_demandeur, cible, s)


# --- Ending pending requests in bulk --------------------------------------------------------


def _terminer(
    filtre: Q,
    etat: str,
    type_evenement: str,
    *,
    now,
    raisons: dict | None = None,
    raisons_par_campagne: dict | None = None,
    skip_locked: bool = False,
) -> list[Evenement]:
    """Move the pending requests matching `filtre` to `etat` and record one event each.

    One SQL statement whatever the number of requests (see bench/bench_expiry.py): it
    locks the rows FOR NO KEY UPDATE in primary key order (SKIP LOCKED for the sweeps, so
    that they never wait), updates them, and inserts their events and the events' links
    (the BMPs concerned: both ends and the members of a requested jumelage, even one just
    deleted; the schools concerned: theirs), returning the events, which are then announced by one
    `evenements_enregistres` signal. The reason of a caducity comes from `raisons`
    (request pk → reason) or `raisons_par_campagne` (campaign pk → reason).
    """
    raisons, raisons_par_campagne = raisons or {}, raisons_par_campagne or {}
    if connection.vendor != "postgresql":
        return _terminer_portable(filtre, etat, type_evenement, now, raisons, raisons_par_campagne)
    a_verrouiller = (
        Demande.objects.filter(filtre, etat=EtatDemande.EN_ATTENTE)
        .order_by("pk")
        .values("pk", "campagne_id")
        .select_for_update(no_key=True, skip_locked=skip_locked)
    )
    select_sql, select_params = a_verrouiller.query.get_compiler(connection=connection).as_sql()
    tables = {
        "demande": Demande._meta.db_table,
        "bmp": BMP._meta.db_table,
        "membre": JumelageBMP._meta.db_table,
        "evenement": Evenement._meta.db_table,
        "evenement_bmp": EvenementBMP._meta.db_table,
        "evenement_etablissement": EvenementEtablissement._meta.db_table,
    }
    champs = [f.attname for f in Evenement._meta.concrete_fields]
    sql = """
        WITH verrouillees AS ({select_sql}),
        terminees AS (
            UPDATE "{demande}" AS d
            SET etat = %s, terminee_le = %s, raison_caducite = COALESCE(rd.raison, rc.raison, '')
            FROM verrouillees AS v
            LEFT JOIN unnest(%s::bigint[], %s::text[]) AS rd(cle, raison) ON rd.cle = v.pk
            LEFT JOIN unnest(%s::bigint[], %s::text[]) AS rc(cle, raison) ON rc.cle = v.campagne_id
            WHERE d.id = v.pk
            RETURNING d.id, d.campagne_id, d.bmp_id, d.cible_id, d.cible_jumelage_id, d.raison_caducite
        ),
        evenements AS (
            INSERT INTO "{evenement}" (type, date, auteur_id, pour_etablissement_id, pour_service_id, motif,
                                       commentaire, campagne_id, demande_id, jumelage_id, donnees)
            SELECT %s, %s, NULL, NULL, NULL, '', t.raison_caducite, t.campagne_id, t.id, t.cible_jumelage_id,
                   '{{}}'::jsonb
            FROM terminees AS t ORDER BY t.id
            RETURNING {colonnes}
        ),
        liens_bmp AS (
            INSERT INTO "{evenement_bmp}" (evenement_id, bmp_id)
            SELECT DISTINCT e.id, concerne.bmp_id
            FROM evenements AS e
            JOIN terminees AS t ON t.id = e.demande_id
            CROSS JOIN LATERAL (
                SELECT t.bmp_id UNION SELECT t.cible_id
                UNION SELECT m.bmp_id FROM "{membre}" AS m WHERE m.jumelage_id = t.cible_jumelage_id
            ) AS concerne(bmp_id)
            WHERE concerne.bmp_id IS NOT NULL
            RETURNING evenement_id, bmp_id
        ),
        liens_etablissement AS (
            INSERT INTO "{evenement_etablissement}" (evenement_id, etablissement_id)
            SELECT DISTINCT l.evenement_id, b.etablissement_id
            FROM liens_bmp AS l JOIN "{bmp}" AS b ON b.id = l.bmp_id
            RETURNING evenement_id, etablissement_id
        )
        SELECT {colonnes_e}, ecoles.ids
        FROM evenements AS e
        LEFT JOIN (
            SELECT evenement_id, array_agg(etablissement_id ORDER BY etablissement_id) AS ids
            FROM liens_etablissement GROUP BY evenement_id
        ) AS ecoles ON ecoles.evenement_id = e.id
        ORDER BY e.id
    """.format(
        select_sql=select_sql,
        colonnes=", ".join(champs),
        colonnes_e=", ".join(f"e.{c}" for c in champs),
        **tables,
    )
    params = [
        *select_params,
        etat,
        now,
        list(raisons),
        list(raisons.values()),
        list(raisons_par_campagne),
        list(raisons_par_campagne.values()),
        type_evenement,
        now,
    ]
    with connection.cursor() as cursor:
        # The planner overestimates this statement and would JIT-compile it: 0.1 s for nothing.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return []
    donnees = champs.index("donnees")
    evenements = []
    for *valeurs, etablissement_ids in rows:
        valeurs[donnees] = {}
        evenement = Evenement.from_db(connection.alias, champs, valeurs)
        evenement.etablissement_ids, evenement.service_ids = etablissement_ids or [], []
        evenements.append(evenement)
    evenements_enregistres.send(sender=Evenement, evenements=evenements)
    return evenements


def _terminer_portable(filtre, etat, type_evenement, now, raisons, raisons_par_campagne) -> list[Evenement]:
    """_terminer for the databases without PostgreSQL's writable CTEs (SQLite, the development
    default, whose writes are serialized anyway): the same rows, states and events, with the ORM."""
    demandes = list(
        Demande.objects.filter(filtre, etat=EtatDemande.EN_ATTENTE)
        .order_by("pk")
        .values("pk", "campagne_id", "bmp_id", "cible_id", "cible_jumelage_id")
    )
    if not demandes:
        return []
    for d in demandes:
        d["raison"] = raisons.get(d["pk"]) or raisons_par_campagne.get(d["campagne_id"]) or ""
        Demande.objects.filter(pk=d["pk"], etat=EtatDemande.EN_ATTENTE).update(
            etat=etat, terminee_le=now, raison_caducite=d["raison"]
        )
    membres = defaultdict(set)
    jumelage_ids = {d["cible_jumelage_id"] for d in demandes if d["cible_jumelage_id"]}
    for jumelage_id, bmp_id in JumelageBMP.objects.filter(jumelage_id__in=jumelage_ids).values_list(
        "jumelage_id", "bmp_id"
    ):
        membres[jumelage_id].add(bmp_id)
    evenements = Evenement.objects.bulk_create(
        [
            Evenement(
                type=type_evenement,
                date=now,
                commentaire=d["raison"],
                campagne_id=d["campagne_id"],
                demande_id=d["pk"],
                jumelage_id=d["cible_jumelage_id"],
                donnees={},
            )
            for d in demandes
        ]
    )
    bmps_par_evenement = {
        e.pk: ({d["bmp_id"], d["cible_id"]} | membres[d["cible_jumelage_id"]]) - {None}
        for e, d in zip(evenements, demandes, strict=True)
    }
    ecole_de = dict(
        BMP.objects.filter(pk__in=set().union(*bmps_par_evenement.values())).values_list("pk", "etablissement_id")
    )
    EvenementBMP.objects.bulk_create(
        [EvenementBMP(evenement_id=e, bmp_id=b) for e, ids in bmps_par_evenement.items() for b in sorted(ids)]
    )
    for evenement in evenements:
        evenement.etablissement_ids = sorted({ecole_de[b] for b in bmps_par_evenement[evenement.pk]})
        evenement.service_ids = []
    EvenementEtablissement.objects.bulk_create(
        [EvenementEtablissement(evenement_id=e.pk, etablissement_id=i) for e in evenements for i in e.etablissement_ids]
    )
    evenements_enregistres.send(sender=Evenement, evenements=evenements)
    return evenements


def _rendre_caduques_ou_expirer(candidats_q: Q, *, now) -> list[Evenement]:
    """DOMAIN.md: pending requests made impossible become caduque (those past their deadline expire).

    Called after an operation changed some BMPs or jumelages, with their locks held:
    the requests are locked after them, in primary key order.
    """
    candidats = list(
        Demande.objects.select_for_update(no_key=True, of=("self",))
        .filter(candidats_q, etat=EtatDemande.EN_ATTENTE)
        .order_by("pk")
    )
    if not candidats:
        return []
    echues = [d.pk for d in candidats if d.est_echue(now)]
    s = _situation(
        {pk for d in candidats for pk in (d.bmp_id, d.cible_id)},
        {d.cible_jumelage_id for d in candidats},
    )
    raisons = {d.pk: r for d in candidats if d.pk not in echues and (r := _obstacle(d, s))}
    evenements = []
    if echues:
        evenements += _terminer(Q(pk__in=echues), EtatDemande.EXPIREE, TypeEvenement.DEMANDE_EXPIREE, now=now)
    if raisons:
        evenements += _terminer(
            Q(pk__in=list(raisons)), EtatDemande.CADUQUE, TypeEvenement.DEMANDE_CADUQUE, now=now, raisons=raisons
        )
    return evenements


def _demandes_impliquant(bmp_ids, jumelage_ids=()) -> Q:
    return Q(bmp_id__in=bmp_ids) | Q(cible_id__in=bmp_ids) | Q(cible_jumelage_id__in=jumelage_ids)


# --- Requests -----------------------------------------------------------------------------


def _charger_demande(demande) -> Demande:
    return Demande.objects.select_related("campagne", "bmp__etablissement", "cible__etablissement").get(pk=demande.pk)


def _etablissements_destinataires(demande: Demande) -> list:
    if demande.cible_id:
        return [demande.cible.etablissement]
    return [
        a.etablissement
        for a in JumelageBMP.objects.filter(jumelage_id=demande.cible_jumelage_id, actif=True).select_related(
            "etablissement"
        )
    ]


def _refus_destinataire(etablissements) -> str:
    if len(etablissements) == 1:
        return f"Seul l'établissement destinataire, {etablissements[0]}, peut répondre à cette demande."
    return f"Seul un établissement du jumelage demandé ({_liste(etablissements)}) peut répondre à cette demande."


def _message_expiree(demande: Demande) -> str:
    return f"Cette demande a expiré le {format_instant(demande.echeance)} : le délai de réponse est dépassé."


def _message_terminee(demande: Demande) -> str:
    quand = format_instant(demande.terminee_le)
    return {
        EtatDemande.ACCEPTEE: f"Cette demande a déjà été acceptée le {quand}.",
        EtatDemande.REFUSEE: f"Cette demande a déjà été refusée le {quand}.",
        EtatDemande.ANNULEE: f"Cette demande a été annulée par l'établissement demandeur le {quand}.",
        EtatDemande.EXPIREE: _message_expiree(demande),
        EtatDemande.CADUQUE: f"Cette demande est devenue caduque le {quand} : {demande.raison_caducite}.",
    }[demande.etat]


def _etablissements_de(demande: Demande, s: _Situation) -> set:
    ids = {s.bmps[demande.bmp_id].etablissement_id}
    if demande.cible_id:
        ids.add(s.bmps[demande.cible_id].etablissement_id)
    ids |= {e.pk for e in s.etablissements(demande.cible_jumelage_id)}
    return ids


def _bmps_de(demande: Demande, s: _Situation) -> set:
    return {pk for pk in (demande.bmp_id, demande.cible_id, *s.membres.get(demande.cible_jumelage_id, [])) if pk}


def send_request(user, bmp: BMP, target, *, three: bool = False) -> Demande:
    """Send a request from one of the user's BMPs (DOMAIN.md "Jumelages and requests").

    `target` is a BMP of another school (same discipline, same campaign), or a jumelage
    of two BMPs to make it three. One pending outgoing request per BMP at a time, two when
    the requester says the jumelage is meant to hold three BMPs (`three`), never more. The
    other school has 72 hours (settings.JUMO_DELAI_REPONSE_HEURES) to answer.
    """
    vers_jumelage = isinstance(target, Jumelage)

    def operation():
        with transaction.atomic():
            demandeur = BMP.objects.select_related("etablissement", "campagne", "discipline").get(pk=bmp.pk)
            acteur = autoriser(user, DEMANDE, demandeur.campagne, [demandeur.etablissement])
            if vers_jumelage:
                jumelage = Jumelage.objects.select_related("discipline").get(pk=target.pk)
                campagne_id, discipline = jumelage.campagne_id, jumelage.discipline
                cible = None
            else:
                cible = BMP.objects.select_related("etablissement", "discipline").get(pk=target.pk)
                campagne_id, discipline = cible.campagne_id, cible.discipline
                jumelage = None
                if cible.pk == demandeur.pk:
                    raise WorkflowError("Un BMP ne peut pas être jumelé avec lui-même.")
                if cible.etablissement_id == demandeur.etablissement_id:
                    raise WorkflowError(
                        f"Les deux BMP appartiennent au même établissement, {demandeur.etablissement} : "
                        "un jumelage réunit des établissements différents."
                    )
            if campagne_id != demandeur.campagne_id:
                raise WorkflowError("Un jumelage réunit des BMP de la même campagne.")
            if discipline.pk != demandeur.discipline_id:
                raise WorkflowError(
                    f"Un jumelage réunit des BMP de la même discipline : {demandeur.discipline.code} "
                    f"et {discipline.code} diffèrent."
                )

            bmp_ids = {demandeur.pk, cible.pk if cible else None}
            jumelage_ids = {jumelage.pk if jumelage else None}
            a_verrouiller = _bmps_pour_envoi(
                _situation(bmp_ids, jumelage_ids), demandeur.pk, cible and cible.pk, jumelage
            )
            verrouilles = _verrouiller_bmps(a_verrouiller)
            s = _situation(bmp_ids, jumelage_ids)
            if not _bmps_pour_envoi(s, demandeur.pk, cible and cible.pk, jumelage) <= verrouilles:
                raise _Reprise
            s.jumelages.update(_verrouiller_jumelages(set(s.jumelages)))
            now = timezone.now()
            demandeur = s.bmps[demandeur.pk]
            _verifier_envoi(demandeur, cible and s.bmps[cible.pk], jumelage and s.jumelages[jumelage.pk], three, s)

            # Requests of this BMP past their deadline are expired: they no longer hold a place.
            _terminer(
                Q(bmp_id=demandeur.pk, echeance__lte=now), EtatDemande.EXPIREE, TypeEvenement.DEMANDE_EXPIREE, now=now
            )
            en_attente = list(
                Demande.objects.select_for_update(no_key=True)
                .filter(bmp_id=demandeur.pk, etat=EtatDemande.EN_ATTENTE)
                .order_by("pk")
            )
            _verifier_en_attente(demandeur, cible, jumelage, en_attente, three)
            if (
                cible
                and Demande.objects.filter(
                    bmp_id=cible.pk, cible_id=demandeur.pk, etat=EtatDemande.EN_ATTENTE, echeance__gt=now
                ).exists()
            ):
                raise WorkflowError(
                    f"Le BMP {cible.identifiant} vous a déjà adressé une demande en attente : "
                    "acceptez-la plutôt que d'en envoyer une autre."
                )
            demande = Demande.objects.create(
                campagne_id=demandeur.campagne_id,
                bmp=demandeur,
                cible=cible,
                cible_jumelage=jumelage,
                trois=three,
                rang=2 if any(d.rang == 1 for d in en_attente) else 1,
                envoyee_le=now,
                envoyee_par=user,
                echeance=now + delai_reponse(),
            )
            _enregistrer_operation(
                TypeEvenement.DEMANDE_ENVOYEE,
                acteur=acteur,
                date=now,
                campagne_id=demande.campagne_id,
                demande=demande,
                jumelage=jumelage,
                donnees={"trois": three, "echeance": demande.echeance.isoformat()},
                bmp_ids=_bmps_de(demande, s),
                etablissement_ids=_etablissements_de(demande, s),
            )
            return demande

    return _avec_reprise(operation)


def _bmps_pour_envoi(s: _Situation, demandeur_id, cible_id, jumelage) -> set:
    """The BMPs whose state a new request depends on: both ends and the jumelage it would extend."""
    ids = {demandeur_id, cible_id} | set(s.membres.get(s.jumelage_de.get(demandeur_id), []))
    if jumelage is not None:
        ids |= set(s.membres.get(jumelage.pk, []))
    return ids - {None}


def _verifier_envoi(demandeur: BMP, cible: BMP | None, jumelage: Jumelage | None, trois: bool, s: _Situation):
    """The rules a new request must meet, with the BMPs locked (DOMAIN.md "Jumelages and requests")."""
    for b in (demandeur, cible):
        if b is not None and not b.actif:
            raise WorkflowError(
                f"Le BMP {b.identifiant} a été retiré par l'actualisation des BMP : "
                "il ne peut plus faire l'objet d'une demande."
            )
    jumelage_du_demandeur = s.jumelage_de.get(demandeur.pk)
    if jumelage is not None:
        if jumelage_du_demandeur is not None:
            raise WorkflowError(
                f"Le BMP {demandeur.identifiant} fait déjà partie d'un jumelage : il ne peut pas en rejoindre un autre."
            )
        raison = _obstacle_extension(jumelage.pk, demandeur, s)
        if raison:
            raise WorkflowError(f"Ce jumelage ne peut pas accueillir ce BMP : {raison}.")
        return
    if cible.pk in s.jumelage_de:
        j = s.jumelage_de[cible.pk]
        if len(s.membres[j]) >= 3:
            raise WorkflowError(f"Le BMP {cible.identifiant} fait déjà partie d'un jumelage complet de trois BMP.")
        raise WorkflowError(
            f"Le BMP {cible.identifiant} fait déjà partie d'un jumelage (n° {j}) : adressez la demande à ce jumelage."
        )
    if jumelage_du_demandeur is not None:
        if len(s.membres[jumelage_du_demandeur]) >= 3:
            raise WorkflowError(f"Le BMP {demandeur.identifiant} fait déjà partie d'un jumelage complet de trois BMP.")
        if not trois:
            raise WorkflowError(
                f"Le BMP {demandeur.identifiant} fait déjà partie d'un jumelage de deux BMP : cochez "
                "« jumelage à trois BMP » pour proposer un troisième BMP."
            )
        raison = _obstacle_extension(jumelage_du_demandeur, cible, s)
        if raison:
            raise WorkflowError(f"Ce BMP ne peut pas rejoindre le jumelage : {raison}.")
        return
    raison = _depasse_maximum([demandeur, cible])
    if raison:
        raise WorkflowError(f"Ce jumelage n'est pas possible : {raison}.")


def _verifier_en_attente(demandeur: BMP, cible, jumelage, en_attente: list, trois: bool):
    """One pending outgoing request per BMP; a second only for a jumelage of three; never a third."""
    for autre in en_attente:
        if (cible and autre.cible_id == cible.pk) or (jumelage and autre.cible_jumelage_id == jumelage.pk):
            raise WorkflowError(
                f"Une demande du BMP {demandeur.identifiant} vers ce destinataire est déjà en attente "
                f"(échéance le {format_instant(autre.echeance)})."
            )
    if len(en_attente) >= 2:
        raise WorkflowError(
            f"Le BMP {demandeur.identifiant} a déjà deux demandes en attente : "
            "c'est le maximum, même pour un jumelage à trois BMP."
        )
    if en_attente and not trois:
        raise WorkflowError(
            f"Le BMP {demandeur.identifiant} a déjà une demande en attente (échéance le "
            f"{format_instant(en_attente[0].echeance)}) : attendez la réponse ou annulez-la ; une deuxième "
            "demande n'est permise que pour un « jumelage à trois BMP »."
        )


def accept_request(user, demande: Demande) -> Jumelage:
    """Accept a request (DOMAIN.md "Jumelages and requests"): creates the jumelage, or extends one to three.

    Only a school receiving the request (for a jumelage of two, any of its schools, once)
    or its service may answer, before the deadline (a request past it is expired on the
    spot). If one of the BMPs has meanwhile joined another jumelage, the request becomes
    caduque and the acceptance fails with a clear message. The other pending requests
    that can no longer succeed become caduque.
    """
    erreur = None

    def operation():
        nonlocal erreur
        with transaction.atomic():
            d = _charger_demande(demande)
            destinataires = _etablissements_destinataires(d)
            acteur = autoriser(user, DEMANDE, d.campagne, destinataires, refus=_refus_destinataire(destinataires))
            verrouilles = _verrouiller_bmps(
                _a_verrouiller(d, _situation({d.bmp_id, d.cible_id}, {d.cible_jumelage_id}))
            )
            s = _situation({d.bmp_id, d.cible_id}, {d.cible_jumelage_id})
            if not _a_verrouiller(d, s) <= verrouilles:
                raise _Reprise
            s.jumelages.update(_verrouiller_jumelages(set(s.jumelages)))
            d = _verrouiller_demande(d.pk)
            now = timezone.now()
            if d.etat != EtatDemande.EN_ATTENTE:
                raise WorkflowError(_message_terminee(d))
            if d.est_echue(now):
                _terminer(Q(pk=d.pk), EtatDemande.EXPIREE, TypeEvenement.DEMANDE_EXPIREE, now=now)
                erreur = WorkflowError(_message_expiree(d))
                return None
            raison = _obstacle(d, s)
            if raison:
                _terminer(
                    Q(pk=d.pk), EtatDemande.CADUQUE, TypeEvenement.DEMANDE_CADUQUE, now=now, raisons={d.pk: raison}
                )
                erreur = WorkflowError(f"Cette demande ne peut plus aboutir : {raison}. Elle est désormais caduque.")
                return None
            return _accepter(acteur, d, s, now)

    try:
        jumelage = _avec_reprise(operation)
    finally:
        demande.refresh_from_db()
    if erreur:
        raise erreur
    return jumelage


def _accepter(acteur: Acteur, d: Demande, s: _Situation, now) -> Jumelage:
    demandeur = s.bmps[d.bmp_id]
    if d.cible_jumelage_id:
        jumelage, nouveau = s.jumelages[d.cible_jumelage_id], demandeur
    elif d.bmp_id in s.jumelage_de:
        jumelage, nouveau = s.jumelages[s.jumelage_de[d.bmp_id]], s.bmps[d.cible_id]
    else:
        jumelage, nouveau = None, None
    if jumelage is None:
        membres = [demandeur, s.bmps[d.cible_id]]
        jumelage = Jumelage(
            campagne_id=d.campagne_id,
            discipline_id=demandeur.discipline_id,
            origine=OrigineJumelage.DEMANDE,
            cree_le=now,
            cree_par=acteur.utilisateur,
        )
        _composer(jumelage, membres, now=now)
        type_evenement = TypeEvenement.DEMANDE_ACCEPTEE
    else:
        membres = [s.bmps[pk] for pk in s.membres[jumelage.pk]]
        _composer(jumelage, membres, nouveaux=[nouveau], now=now)
        membres.append(nouveau)
        type_evenement = TypeEvenement.JUMELAGE_ETENDU
    _repondre(d, etat=EtatDemande.ACCEPTEE, terminee_le=now, terminee_par=acteur.utilisateur, jumelage=jumelage)
    _enregistrer_operation(
        type_evenement,
        acteur=acteur,
        date=now,
        campagne_id=d.campagne_id,
        demande=d,
        jumelage=jumelage,
        donnees={"total_heures": str(jumelage.total_heures)},
        bmp_ids={m.pk for m in membres},
        etablissement_ids={m.etablissement_id for m in membres},
    )
    ids = [m.pk for m in membres]
    _rendre_caduques_ou_expirer(_demandes_impliquant(ids, [jumelage.pk]), now=now)
    return jumelage


def _repondre(d: Demande, **reponse):
    """Answer once: a conditional UPDATE … WHERE etat = 'en_attente' (the row is locked too)."""
    if not Demande.objects.filter(pk=d.pk, etat=EtatDemande.EN_ATTENTE).update(**reponse):
        raise WorkflowError("Cette demande vient de recevoir une autre réponse : rechargez la page.")


def _rattachement(membres: list) -> int:
    """DOMAIN.md (our decision): the school holding most hours; on a tie, the first BMP of the jumelage."""
    rang = {m.pk: i for i, m in enumerate(membres)}
    return max(membres, key=lambda m: (m.heures, -rang[m.pk])).etablissement_id


def _composer(jumelage: Jumelage, membres: list, *, nouveaux=(), now, rattachement_id=None):
    """Save the jumelage with its total and établissement de rattachement, and add the new members.

    `membres` are the BMPs already in the jumelage (all of them for a new one). The
    database refuses a BMP in two active jumelages, two BMPs of one school, a fourth BMP.
    """
    tous = [*membres, *nouveaux]
    jumelage.total_heures = sum((m.heures for m in tous), Decimal(0))
    if rattachement_id is not None:
        jumelage.rattachement_id, jumelage.rattachement_choisi = rattachement_id, True
    elif not jumelage.rattachement_choisi:
        jumelage.rattachement_id = _rattachement(tous)
    creation = jumelage.pk is None
    ajouts = tous if creation else list(nouveaux)
    debut = 1 if creation else len(membres) + 1
    try:
        with transaction.atomic():
            jumelage.save()
            JumelageBMP.objects.bulk_create(
                JumelageBMP(
                    jumelage=jumelage, bmp=b, etablissement_id=b.etablissement_id, position=debut + i, ajoute_le=now
                )
                for i, b in enumerate(ajouts)
            )
    except IntegrityError as exc:  # the locks make this unreachable; the constraints keep it true anyway
        raise WorkflowError("Un de ces BMP fait déjà partie d'un jumelage actif.") from exc


def refuse_request(user, demande: Demande, motif, commentaire: str = "") -> None:
    """Refuse a request with a motive (DOMAIN.md): "Autre" needs a comment; only before the deadline."""
    erreur = None
    try:
        with transaction.atomic():
            d = _charger_demande(demande)
            destinataires = _etablissements_destinataires(d)
            acteur = autoriser(user, DEMANDE, d.campagne, destinataires, refus=_refus_destinataire(destinataires))
            d = _verrouiller_demande(d.pk)
            now = timezone.now()
            erreur = _fin_en_attente(d, now)
            if erreur is None:
                motif, commentaire = valider_motif(motif, commentaire)
                _clore(d, acteur, now, EtatDemande.REFUSEE, TypeEvenement.DEMANDE_REFUSEE, motif, commentaire)
    finally:
        demande.refresh_from_db()
    if erreur:
        raise erreur


def cancel_request(user, demande: Demande) -> None:
    """The requester cancels its pending request (DOMAIN.md "Jumelages and requests": annulée)."""
    erreur = None
    try:
        with transaction.atomic():
            d = _charger_demande(demande)
            etablissement = d.bmp.etablissement
            acteur = autoriser(
                user,
                DEMANDE,
                d.campagne,
                [etablissement],
                refus=f"Seul l'établissement demandeur, {etablissement}, peut annuler cette demande.",
            )
            d = _verrouiller_demande(d.pk)
            now = timezone.now()
            erreur = _fin_en_attente(d, now)
            if erreur is None:
                _clore(d, acteur, now, EtatDemande.ANNULEE, TypeEvenement.DEMANDE_ANNULEE)
    finally:
        demande.refresh_from_db()
    if erreur:
        raise erreur


def _fin_en_attente(d: Demande, now) -> WorkflowError | None:
    """A request already ended raises; one past its deadline is expired now and its error returned."""
    if d.etat != EtatDemande.EN_ATTENTE:
        raise WorkflowError(_message_terminee(d))
    if d.est_echue(now):
        _terminer(Q(pk=d.pk), EtatDemande.EXPIREE, TypeEvenement.DEMANDE_EXPIREE, now=now)
        return WorkflowError(_message_expiree(d))
    return None


def _clore(d: Demande, acteur: Acteur, now, etat, type_evenement, motif="", commentaire=""):
    _repondre(d, etat=etat, terminee_le=now, terminee_par=acteur.utilisateur, motif=motif, commentaire=commentaire)
    s = _situation({d.bmp_id, d.cible_id}, {d.cible_jumelage_id})
    _enregistrer_operation(
        type_evenement,
        acteur=acteur,
        date=now,
        campagne_id=d.campagne_id,
        demande=d,
        jumelage_id=d.cible_jumelage_id,
        motif=motif,
        commentaire=commentaire,
        bmp_ids=_bmps_de(d, s),
        etablissement_ids=_etablissements_de(d, s),
    )


def valider_motif(motif, commentaire) -> tuple[str, str]:
    """DOMAIN.md: refusing or deleting needs a motive from the list; with "Autre", a comment."""
    if motif not in Motif.values:
        raise WorkflowError(
            "Choisissez un motif : « Zones de remplacement différentes », « Quotité inadaptée » ou « Autre »."
        )
    commentaire = (commentaire or "").strip()
    if motif == Motif.AUTRE and not commentaire:
        raise WorkflowError("Avec le motif « Autre », un commentaire est obligatoire.")
    return str(motif), commentaire


# --- Jumelages ----------------------------------------------------------------------------


def _charger_jumelage(jumelage) -> tuple[Jumelage, list]:
    j = Jumelage.objects.select_related("campagne", "discipline", "rattachement").get(pk=jumelage.pk)
    membres = [a.bmp for a in j.appartenances.select_related("bmp__etablissement").order_by("position")]
    return j, membres


def _charger_et_autoriser(user, jumelage, operation: str) -> tuple[Jumelage, list, Acteur]:
    """The jumelage, its member BMPs, and who acts on it: one of its schools or their service."""
    j, membres = _charger_jumelage(jumelage)
    etablissements = [m.etablissement for m in membres]
    acteur = autoriser(user, operation, j.campagne, etablissements, refus=_refus_jumelage(etablissements))
    return j, membres, acteur


def _verrouiller_jumelage(j: Jumelage, membres: list) -> Jumelage:
    """Lock the jumelage's BMPs, then the jumelage; its members cannot change once they are locked."""
    _verrouiller_bmps([m.pk for m in membres])
    verrouille = _verrouiller_jumelages([j.pk])[j.pk]
    if set(verrouille.appartenances.values_list("bmp_id", flat=True)) != {m.pk for m in membres}:
        raise _Reprise
    return verrouille


def _refus_jumelage(etablissements) -> str:
    return f"Seuls les établissements du jumelage ({_liste(etablissements)}) et leurs services peuvent agir sur lui."


def delete_jumelage(user, jumelage: Jumelage, motif, commentaire: str = "") -> None:
    """Delete an effective jumelage with a motive (DOMAIN.md): by one of its schools or a service.

    The requests to this jumelage become caduque; its BMPs are free again.
    """

    def operation():
        with transaction.atomic():
            j, membres, acteur = _charger_et_autoriser(user, jumelage, SUPPRESSION)
            j = _verrouiller_jumelage(j, membres)
            if not j.actif:
                raise WorkflowError(f"Ce jumelage a déjà été supprimé le {format_instant(j.supprime_le)}.")
            motif_, commentaire_ = valider_motif(motif, commentaire)
            now = timezone.now()
            j.actif, j.supprime_le, j.supprime_par = False, now, user
            j.motif_suppression, j.commentaire_suppression = motif_, commentaire_
            j.save(
                update_fields=["actif", "supprime_le", "supprime_par", "motif_suppression", "commentaire_suppression"]
            )
            j.appartenances.update(actif=False)
            _enregistrer_operation(
                TypeEvenement.JUMELAGE_SUPPRIME,
                acteur=acteur,
                date=now,
                campagne_id=j.campagne_id,
                jumelage=j,
                motif=motif_,
                commentaire=commentaire_,
                bmp_ids={m.pk for m in membres},
                etablissement_ids={m.etablissement_id for m in membres},
            )
            _rendre_caduques_ou_expirer(_demandes_impliquant([m.pk for m in membres], [j.pk]), now=now)

    _avec_reprise(operation)
    jumelage.refresh_from_db()


@dataclass
class Examen:
    """What build_jumelage would make of these BMPs: the members, the school of attachment and
    every reason it would refuse them, in the order it checks them (the admin's preview shows
    them all; build_jumelage raises the first)."""

    membres: list
    problemes: list[str]
    campagne: Campagne | None = None
    acteur: Acteur | None = None
    rattachement_id: int | None = None

    @property
    def total(self) -> Decimal:
        return sum((m.heures for m in self.membres), Decimal(0))

    @property
    def cible(self) -> int | None:
        disciplines = {m.discipline.heures_temps_plein for m in self.membres}
        return disciplines.pop() if len(disciplines) == 1 else None

    @property
    def avertissement(self) -> str:
        return avertissement_total(self.total, self.cible)


def _examiner_construction(user, ids: list[int], rattachement_id: int | None) -> Examen:
    problemes = []
    if len(set(ids)) != len(ids):
        problemes.append("Le même BMP ne peut pas figurer deux fois dans un jumelage.")
    if len(set(ids)) not in (2, 3):
        problemes.append("Un jumelage réunit deux ou trois BMP.")
    s = _situation(ids, ())
    uniques = list(dict.fromkeys(ids))
    inconnus = [pk for pk in uniques if pk not in s.bmps]
    if inconnus:
        problemes.append(f"BMP inconnu(s) : n° {', '.join(map(str, inconnus))}.")
    membres = [s.bmps[pk] for pk in uniques if pk in s.bmps]
    examen = Examen(membres=membres, problemes=problemes)
    if not membres:
        return examen
    campagnes = Campagne.objects.in_bulk({m.campagne_id for m in membres})
    for m in membres:
        m.campagne = campagnes[m.campagne_id]
    if len(campagnes) > 1:
        problemes.append("Un jumelage réunit des BMP de la même campagne.")
    examen.campagne = membres[0].campagne
    try:
        examen.acteur = autoriser(user, CONSTRUCTION, examen.campagne, [m.etablissement for m in membres], tous=True)
    except WorkflowError as error:
        problemes.append(str(error))
    if len({m.discipline_id for m in membres}) > 1:
        codes = ", ".join(sorted({m.discipline.code for m in membres}))
        problemes.append(f"Un jumelage réunit des BMP de la même discipline : {codes} diffèrent.")
    if len({m.etablissement_id for m in membres}) < len(membres):
        problemes.append("Un jumelage réunit des BMP d'établissements différents.")
    if rattachement_id is not None and rattachement_id not in {m.etablissement_id for m in membres}:
        problemes.append("L'établissement de rattachement doit être l'un des établissements du jumelage.")
    for m in membres:
        if not m.actif:
            problemes.append(f"Le BMP {m.identifiant} a été retiré par l'actualisation des BMP.")
        elif m.pk in s.jumelage_de:
            problemes.append(f"Le BMP {m.identifiant} fait déjà partie d'un jumelage (n° {s.jumelage_de[m.pk]}).")
    raison = _depasse_maximum(membres)
    if raison:
        problemes.append(f"Ce jumelage n'est pas possible : {raison}.")
    examen.rattachement_id = rattachement_id or _rattachement(membres)
    return examen


def examine_jumelage(user, bmps, rattachement: Etablissement | None = None) -> Examen:
    """The preview of build_jumelage, writing nothing: the members with their school and discipline,
    the total against the target, the default school of attachment, and every problem."""
    ids = [b.pk if isinstance(b, BMP) else int(b) for b in bmps]
    examen = _examiner_construction(user, ids, rattachement.pk if rattachement else None)
    disciplines = {d.pk: d for d in Discipline.objects.filter(pk__in={m.discipline_id for m in examen.membres})}
    communes = Commune.objects.in_bulk({m.etablissement.commune_id for m in examen.membres})
    for m in examen.membres:
        m.discipline = disciplines[m.discipline_id]
        m.etablissement.commune = communes[m.etablissement.commune_id]
    return examen


def build_jumelage(user, bmps, rattachement: Etablissement | None = None) -> Jumelage:
    """A service builds a jumelage of 2 or 3 BMPs (DOMAIN.md): effective as it is, no school needs to act.

    Same discipline, different schools, same campaign, all within the service's perimeter;
    the établissement de rattachement is the school holding most hours unless given.
    The pending requests these BMPs can no longer satisfy become caduque.
    """
    ids = [b.pk if isinstance(b, BMP) else int(b) for b in bmps]

    def operation():
        with transaction.atomic():
            _verrouiller_bmps(ids)
            examen = _examiner_construction(user, ids, rattachement.pk if rattachement else None)
            if examen.problemes:
                raise WorkflowError(examen.problemes[0])
            membres, campagne, acteur = examen.membres, examen.campagne, examen.acteur
            now = timezone.now()
            jumelage = Jumelage(
                campagne=campagne,
                discipline_id=membres[0].discipline_id,
                origine=OrigineJumelage.SERVICE,
                cree_le=now,
                cree_par=user,
            )
            _composer(jumelage, membres, now=now, rattachement_id=rattachement.pk if rattachement else None)
            _enregistrer_operation(
                TypeEvenement.JUMELAGE_CREE,
                acteur=acteur,
                date=now,
                campagne_id=campagne.pk,
                jumelage=jumelage,
                donnees={"total_heures": str(jumelage.total_heures)},
                bmp_ids=set(ids),
                etablissement_ids={m.etablissement_id for m in membres},
            )
            _rendre_caduques_ou_expirer(_demandes_impliquant(ids), now=now)
            return jumelage

    return _avec_reprise(operation)


def validate_jumelage(user, jumelage: Jumelage) -> None:
    """A service validates a jumelage during the validation phase (DOMAIN.md "The campaign calendar")."""

    def operation():
        with transaction.atomic():
            j, membres, acteur = _charger_et_autoriser(user, jumelage, VALIDATION)
            j = _verrouiller_jumelage(j, membres)
            if not j.actif:
                raise WorkflowError(f"Ce jumelage a été supprimé le {format_instant(j.supprime_le)}.")
            if j.valide:
                raise WorkflowError(f"Ce jumelage a déjà été validé le {format_instant(j.valide_le)}.")
            for m in BMP.objects.filter(pk__in=[m.pk for m in membres]).order_by("pk"):
                if not m.actif:
                    raise WorkflowError(
                        f"Le BMP {m.identifiant} a été retiré par l'actualisation des BMP : "
                        "revoyez ce jumelage avant de le valider."
                    )
            now = timezone.now()
            j.valide, j.valide_le, j.valide_par, j.a_revoir = True, now, user, False
            j.save(update_fields=["valide", "valide_le", "valide_par", "a_revoir"])
            _enregistrer_operation(
                TypeEvenement.JUMELAGE_VALIDE,
                acteur=acteur,
                date=now,
                campagne_id=j.campagne_id,
                jumelage=j,
                bmp_ids={m.pk for m in membres},
                etablissement_ids={m.etablissement_id for m in membres},
            )

    _avec_reprise(operation)
    jumelage.refresh_from_db()


def set_rattachement(user, jumelage: Jumelage, etablissement: Etablissement) -> None:
    """The DOS changes the établissement de rattachement (DOMAIN.md, our decision); it is kept from then on."""
    with transaction.atomic():
        j, membres, acteur = _charger_et_autoriser(user, jumelage, RATTACHEMENT)
        j = _verrouiller_jumelages([j.pk])[j.pk]
        if not j.actif:
            raise WorkflowError(f"Ce jumelage a été supprimé le {format_instant(j.supprime_le)}.")
        if etablissement.pk not in {m.etablissement_id for m in membres}:
            raise WorkflowError("L'établissement de rattachement doit être l'un des établissements du jumelage.")
        if etablissement.pk == j.rattachement_id:
            raise WorkflowError(f"{etablissement} est déjà l'établissement de rattachement de ce jumelage.")
        ancien = j.rattachement
        j.rattachement, j.rattachement_choisi = etablissement, True
        j.save(update_fields=["rattachement", "rattachement_choisi"])
        _enregistrer_operation(
            TypeEvenement.RATTACHEMENT_MODIFIE,
            acteur=acteur,
            campagne_id=j.campagne_id,
            jumelage=j,
            donnees={"ancien": ancien.uai, "nouveau": etablissement.uai},
            bmp_ids={m.pk for m in membres},
            etablissement_ids={m.etablissement_id for m in membres},
        )
    jumelage.refresh_from_db()


# --- Sweeps: time-driven work, idempotent, in bulk -----------------------------------------


def expire_overdue(now: datetime.datetime | None = None) -> int:
    """Expire the pending requests past their deadline (DOMAIN.md: 72 hours, then expirée).

    A sweep: idempotent (a second run returns 0), safe late or concurrently (SKIP
    LOCKED), a constant number of queries whatever the number of requests; the events
    are recorded in bulk and announced by one `evenements_enregistres` signal. A request
    whose deadline falls after its campaign closed is left to close_campaigns (caduque).
    """
    now = now or timezone.now()
    campagnes = list(Campagne.objects.all())
    if not campagnes:
        return 0
    filtre = Q()
    for campagne in campagnes:
        filtre |= Q(campagne_id=campagne.pk, echeance__lte=min(now, instant_de_cloture(campagne)))
    with transaction.atomic():
        evenements = _terminer(filtre, EtatDemande.EXPIREE, TypeEvenement.DEMANDE_EXPIREE, now=now, skip_locked=True)
    return len(evenements)


def close_campaigns(now: datetime.datetime | None = None) -> int:
    """At closing, pending requests become caduque (DOMAIN.md "caduque: … campaign closed").

    The phase itself never depends on this sweep: it only carries out the transition's
    side effects, once (idempotent, bulk, SKIP LOCKED). Requests whose deadline came
    before the closing are left to expire_overdue. Returns how many became caduque.
    """
    now = now or timezone.now()
    campagnes = [c for c in Campagne.objects.all() if now >= instant_de_cloture(c)]
    if not campagnes:
        return 0
    raisons, filtre = {}, Q()
    for c in campagnes:
        cloture = instant_de_cloture(c)
        raisons[c.pk] = f"la campagne est close aux établissements depuis le {format_instant(cloture)}"
        filtre |= Q(campagne_id=c.pk, echeance__gt=cloture)
    with transaction.atomic():
        evenements = _terminer(
            filtre,
            EtatDemande.CADUQUE,
            TypeEvenement.DEMANDE_CADUQUE,
            now=now,
            raisons_par_campagne=raisons,
            skip_locked=True,
        )
        a_annoncer = [c for c in campagnes if c.phase_at(now) in (Phase.VALIDATION, Phase.CONSULTATION)]
        # Two runs at once: the second waits here for the first, then finds its event (and the
        # database would refuse a second one anyway).
        list(Campagne.objects.select_for_update(no_key=True).filter(pk__in=[c.pk for c in a_annoncer]).order_by("pk"))
        deja = set(
            Evenement.objects.filter(type=TypeEvenement.CAMPAGNE_CLOTUREE, campagne__in=a_annoncer).values_list(
                "campagne_id", flat=True
            )
        )
        _enregistrer(
            [
                _AEnregistrer(
                    _evenement(
                        TypeEvenement.CAMPAGNE_CLOTUREE,
                        date=now,
                        campagne=c,
                        commentaire=raisons[c.pk],
                    )
                )
                for c in a_annoncer
                if c.pk not in deja
            ],
            en_masse=True,
        )
    return len(evenements)


def apply_refresh(campagne, *, changed, withdrawn, restored, touched: dict) -> None:
    """Apply the nightly refresh's effects (DOMAIN.md "The nightly refresh"), inside its transaction.

    Never lose work: a BMP whose hours changed keeps its jumelage (total recomputed,
    schools told); a withdrawn BMP's pending requests lapse (caduque) and its jumelage is
    flagged for review (schools and services told); a restored BMP's jumelage is told.
    Fills `touched` with {"demandes": [ids], "jumelages": [ids]}.
    """
    changed, withdrawn, restored = set(changed or ()), set(withdrawn or ()), set(restored or ())
    if changed | withdrawn | restored:
        with transaction.atomic():
            _appliquer_actualisation(campagne, changed, withdrawn, restored, touched)


def _appliquer_actualisation(campagne, changed: set, withdrawn: set, restored: set, touched: dict) -> None:
    tous = changed | withdrawn | restored
    now = timezone.now()
    jumelage_de = dict(JumelageBMP.objects.filter(actif=True, bmp_id__in=tous).values_list("bmp_id", "jumelage_id"))
    jumelages = _verrouiller_jumelages(set(jumelage_de.values()))
    s = _situation(set(jumelage_de), jumelages)

    a_revoir = {jumelage_de[pk] for pk in withdrawn if pk in jumelage_de}
    recalcules = {jumelage_de[pk] for pk in changed if pk in jumelage_de}
    maximum = total_maximum()
    for jumelage_id in sorted(a_revoir | recalcules):
        j = jumelages[jumelage_id]
        membres = [s.bmps[pk] for pk in s.membres[jumelage_id]]
        j.total_heures = sum((m.heures for m in membres), Decimal(0))
        if not j.rattachement_choisi:
            j.rattachement_id = _rattachement(membres)
        j.a_revoir = j.a_revoir or jumelage_id in a_revoir or (maximum is not None and j.total_heures > maximum)
        j.save(update_fields=["total_heures", "rattachement", "a_revoir"])

    # Lapse what a withdrawal made impossible: the withdrawn BMPs' requests, the requests to
    # their jumelages and the "three BMPs" requests of these jumelages' other members.
    membres_a_revoir = {pk for j in a_revoir for pk in s.membres[j]}
    caduques = _rendre_caduques_ou_expirer(_demandes_impliquant(withdrawn | membres_a_revoir, a_revoir), now=now)
    # Requests still pending that involve a BMP whose hours changed: their schools are told too.
    partenaires = defaultdict(set)
    for bmp_id, cible_id, etab_demandeur, etab_cible in Demande.objects.filter(
        Q(bmp_id__in=changed) | Q(cible_id__in=changed), etat=EtatDemande.EN_ATTENTE
    ).values_list("bmp_id", "cible_id", "bmp__etablissement_id", "cible__etablissement_id"):
        for pk in (bmp_id, cible_id):
            partenaires[pk] |= {etab_demandeur, etab_cible} - {None}

    # Only the BMPs in a jumelage or in a pending request concern the workflow (a few among
    # the thousands a refresh changes).
    a_signaler = {pk for pk in tous if pk in jumelage_de or partenaires.get(pk)}
    bmps = {**s.bmps, **BMP.objects.select_related("etablissement").in_bulk(a_signaler - set(s.bmps))}
    services = list(Service.objects.all())
    items = []
    for type_evenement, ids in (
        (TypeEvenement.BMP_MODIFIE, changed),
        (TypeEvenement.BMP_RETIRE, withdrawn),
        (TypeEvenement.BMP_RESTAURE, restored),
    ):
        for pk in sorted(ids & a_signaler):
            jumelage_id = jumelage_de.get(pk)
            bmp = bmps[pk]
            etablissements = set(s.etablissements(jumelage_id)) | {bmp.etablissement}
            item = _AEnregistrer(
                _evenement(
                    type_evenement,
                    date=now,
                    campagne=campagne,
                    jumelage_id=jumelage_id,
                    donnees={
                        "heures": str(bmp.heures),
                        **({"total_heures": str(jumelages[jumelage_id].total_heures)} if jumelage_id else {}),
                    },
                ),
                {pk},
                {e.pk for e in etablissements} | partenaires.get(pk, set()),
            )
            if type_evenement == TypeEvenement.BMP_RETIRE:
                item.service_ids = {sv.pk for sv in services if any(sv.couvre(e) for e in etablissements)}
            items.append(item)
    _enregistrer(items, en_masse=True)

    demandes = {e.demande_id for e in caduques}
    touches = {jumelage_de[pk] for pk in tous if pk in jumelage_de}
    touched["demandes"] = sorted(set(touched.get("demandes", [])) | demandes)
    touched["jumelages"] = sorted(set(touched.get("jumelages", [])) | touches)
