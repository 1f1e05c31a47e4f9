"""Locks, the retry of an operation, and the state of the BMPs involved (what stands in the way).

Rows are locked in one order everywhere, so that concurrent operations cannot deadlock:
the BMP rows by primary key, then the jumelages by primary key, then the requests by
primary key. An operation holding a request's lock never waits for a BMP's or a
jumelage's. The sweeps (expiry, closing) lock requests with SKIP LOCKED and so never wait
at all. Rows are locked FOR NO KEY UPDATE, which does not conflict with the KEY SHARE lock
PostgreSQL takes when a new row (an event, a membership) refers to a locked row.

An operation first reads which rows it must lock, locks them, then reads again; when the
set grew meanwhile it raises _Retry and `_with_retry` starts it over.
"""

from collections import defaultdict
from dataclasses import dataclass

from bmp.models import BMP

from ..models import Demande, Jumelage, JumelageBMP
from .composition import _over_maximum
from .errors import WorkflowError

# --- Locks --------------------------------------------------------------------------------


class _Retry(Exception):
    """The set of rows to lock grew while we waited: start the operation again."""


def _with_retry(operation):
    """Run `operation` (one transaction), again while it asks to (_Retry), five times at most."""
    for _attempt in range(5):
        try:
            return operation()
        except _Retry:
            continue
    raise WorkflowError("D'autres opérations modifient ces BMP au même moment : réessayez dans un instant.")


def _lock_bmps(ids) -> set:
    """Lock these BMPs, by primary key; return the ids locked."""
    return set(
        BMP.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk").values_list("pk", flat=True)
    )


def _lock_jumelages(ids) -> dict:
    """Lock these jumelages, by primary key, after the BMPs; return them by id."""
    qs = Jumelage.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    return {j.pk: j for j in qs}


def _lock_demande(pk) -> Demande:
    """Lock one request, after the BMPs and jumelages, with its campaign and both ends."""
    return (
        Demande.objects.select_for_update(no_key=True, of=("self",))
        .select_related("campagne", "bmp__etablissement", "cible__etablissement")
        .get(pk=pk)
    )


def _lock_jumelage(j: Jumelage, membres: list) -> Jumelage:
    """Lock the jumelage's BMPs, then the jumelage; its members cannot change once they are locked."""
    _lock_bmps([m.pk for m in membres])
    locked = _lock_jumelages([j.pk])[j.pk]
    if set(locked.appartenances.values_list("bmp_id", flat=True)) != {m.pk for m in membres}:
        raise _Retry
    return locked


# --- The state of the BMPs involved, and what stands in the way --------------------------


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
    """Read the situation of these BMPs and jumelages (and of the jumelages these BMPs are in)."""
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


def _bmps_to_lock(demande: Demande, s: _Situation) -> set:
    """The BMPs an answer to `demande` may change: both ends and the members of the jumelage it extends."""
    ids = {demande.bmp_id, demande.cible_id}
    ids |= set(s.membres.get(demande.cible_jumelage_id, []))
    ids |= set(s.membres.get(s.jumelage_de.get(demande.bmp_id), []))
    return {pk for pk in ids if pk}


def _extension_obstacle(jumelage_id, nouveau: BMP, s: _Situation) -> str:
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
    return _over_maximum([*membres, nouveau])


def _obstacle(demande: Demande, s: _Situation) -> str:
    """Why `demande` can no longer succeed, or "": a request made impossible becomes caduque.

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
        return _extension_obstacle(demande.cible_jumelage_id, demandeur, s)
    cible = s.bmps[demande.cible_id]
    if not cible.actif:
        return f"le BMP {cible.identifiant} a été retiré par l'actualisation des BMP"
    if cible.pk in s.jumelage_de:
        return f"le BMP {cible.identifiant} fait désormais partie d'un jumelage"
    if jumelage_du_demandeur is None:
        return _over_maximum([demandeur, cible])
    if not demande.trois:
        return f"le BMP {demandeur.identifiant} fait désormais partie d'un jumelage"
    return _extension_obstacle(jumelage_du_demandeur, cible, s)
