"""Ending pending requests in bulk: expiry (no answer before the deadline) and caducity.

A request lapses (caduque) when it was made impossible: a BMP taken elsewhere, a BMP
withdrawn by the nightly refresh, the campaign closed. The operations call
`_lapse_or_expire` for the requests their change may have made impossible; the sweeps
call `_end_pending` directly.
"""

from collections import defaultdict

from django.db import connection
from django.db.models import Q

from bmp.models import BMP

from ..enums import EtatDemande, TypeEvenement
from ..models import Demande, Evenement, EvenementBMP, EvenementEtablissement, JumelageBMP
from ..signals import evenements_enregistres
from .locks import _obstacle, _situation


def _end_pending(
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
        return _end_pending_portable(filtre, etat, type_evenement, now, raisons, raisons_par_campagne)
    to_lock = (
        Demande.objects.filter(filtre, etat=EtatDemande.EN_ATTENTE)
        .order_by("pk")
        .values("pk", "campagne_id")
        .select_for_update(no_key=True, skip_locked=skip_locked)
    )
    select_sql, select_params = to_lock.query.get_compiler(connection=connection).as_sql()
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


def _end_pending_portable(filtre, etat, type_evenement, now, raisons, raisons_par_campagne) -> list[Evenement]:
    """_end_pending for the databases without PostgreSQL's writable CTEs (SQLite, the development
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


def _lapse_or_expire(candidats_q: Q, *, now) -> list[Evenement]:
    """Pending requests made impossible become caduque (those past their deadline expire instead).

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
        evenements += _end_pending(Q(pk__in=echues), EtatDemande.EXPIREE, TypeEvenement.DEMANDE_EXPIREE, now=now)
    if raisons:
        evenements += _end_pending(
            Q(pk__in=list(raisons)), EtatDemande.CADUQUE, TypeEvenement.DEMANDE_CADUQUE, now=now, raisons=raisons
        )
    return evenements


def _demandes_involving(bmp_ids, jumelage_ids=()) -> Q:
    """The requests from or to these BMPs, or to these jumelages."""
    return Q(bmp_id__in=bmp_ids) | Q(cible_id__in=bmp_ids) | Q(cible_jumelage_id__in=jumelage_ids)
