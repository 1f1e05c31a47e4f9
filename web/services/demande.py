"""The requests as the heads' pages show them: those a school received and sent, one request with
the members of the jumelage it asks to join, who may answer it, and its history."""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from bmp.models import Campagne
from establishments.models import Etablissement
from jumelages.enums import EtatDemande
from jumelages.models import Demande, Evenement, JumelageBMP, format_heures

from .campagne import temps_restant

PLAFOND_DEMANDES = 100


def _with_members(demandes: list) -> list:
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


def _demandes_query():
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
    base = _demandes_query().filter(campagne=campagne)
    en_attente = When(etat=EtatDemande.EN_ATTENTE, then=Value(1))
    base = base.annotate(etat_pending=Case(en_attente, default=Value(0), output_field=IntegerField()))
    recues = list(
        base.filter(Q(cible__etablissement=etablissement) | Q(cible_jumelage_id__in=mes_jumelages))
        .exclude(bmp__etablissement=etablissement)
        .order_by(*ordre)[:PLAFOND_DEMANDES]
    )
    envoyees = list(base.filter(bmp__etablissement=etablissement).order_by(*ordre)[:PLAFOND_DEMANDES])
    _with_members(recues + envoyees)
    return recues, envoyees


def demande_detail(pk: int) -> Demande:
    return _with_members([_demandes_query().get(pk=pk)])[0]


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


def peut_repondre(demande: Demande, etablissement: Etablissement) -> bool:
    """The school is the one asked (the requested BMP's, or one of the requested jumelage's)."""
    if demande.cible_id:
        return demande.cible.etablissement_id == etablissement.pk
    return any(a.etablissement_id == etablissement.pk for a in demande.membres_cible)


def historique_demande(demande: Demande) -> list[Evenement]:
    return list(
        Evenement.objects.filter(demande=demande)
        .select_related("auteur", "pour_etablissement", "pour_service")
        .order_by("date", "pk")
    )
