"""The nightly refresh's effects on the workflow (bmp's refresh announces them, receivers apply them).

The refresh must never lose work: a BMP whose hours changed keeps its jumelage (total
recomputed, schools told); a withdrawn BMP's pending requests lapse and its jumelage is
flagged for review (schools and services told); a restored BMP's jumelage is told.
"""

from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bmp.models import BMP
from establishments.models import Service

from ..enums import EtatDemande, TypeEvenement
from ..models import Demande, JumelageBMP
from .calendar import total_maximum
from .composition import _default_rattachement
from .endings import _demandes_involving, _lapse_or_expire
from .events import _new_evenement, _record, _ToRecord
from .locks import _lock_jumelages, _situation


def apply_refresh(campagne, *, changed, withdrawn, restored, touched: dict) -> None:
    """Apply the nightly refresh's effects on the workflow, inside the refresh's transaction.

    Never lose work: a BMP whose hours changed keeps its jumelage (total recomputed,
    schools told); a withdrawn BMP's pending requests lapse (caduque) and its jumelage is
    flagged for review (schools and services told); a restored BMP's jumelage is told.
    Fills `touched` with {"demandes": [ids], "jumelages": [ids]}.
    """
    changed, withdrawn, restored = set(changed or ()), set(withdrawn or ()), set(restored or ())
    if changed | withdrawn | restored:
        with transaction.atomic():
            _apply_refresh(campagne, changed, withdrawn, restored, touched)


def _apply_refresh(campagne, changed: set, withdrawn: set, restored: set, touched: dict) -> None:
    tous = changed | withdrawn | restored
    now = timezone.now()
    jumelage_de = dict(JumelageBMP.objects.filter(actif=True, bmp_id__in=tous).values_list("bmp_id", "jumelage_id"))
    jumelages = _lock_jumelages(set(jumelage_de.values()))
    s = _situation(set(jumelage_de), jumelages)

    a_revoir = {jumelage_de[pk] for pk in withdrawn if pk in jumelage_de}
    recalcules = {jumelage_de[pk] for pk in changed if pk in jumelage_de}
    maximum = total_maximum()
    for jumelage_id in sorted(a_revoir | recalcules):
        j = jumelages[jumelage_id]
        membres = [s.bmps[pk] for pk in s.membres[jumelage_id]]
        j.total_heures = sum((m.heures for m in membres), Decimal(0))
        if not j.rattachement_choisi:
            j.rattachement_id = _default_rattachement(membres)
        j.a_revoir = j.a_revoir or jumelage_id in a_revoir or (maximum is not None and j.total_heures > maximum)
        j.save(update_fields=["total_heures", "rattachement", "a_revoir"])

    # Lapse what a withdrawal made impossible: the withdrawn BMPs' requests, the requests to
    # their jumelages and the "three BMPs" requests of these jumelages' other members.
    membres_a_revoir = {pk for j in a_revoir for pk in s.membres[j]}
    caduques = _lapse_or_expire(_demandes_involving(withdrawn | membres_a_revoir, a_revoir), now=now)
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
            item = _ToRecord(
                _new_evenement(
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
    _record(items, bulk=True)

    demandes = {e.demande_id for e in caduques}
    touches = {jumelage_de[pk] for pk in tous if pk in jumelage_de}
    touched["demandes"] = sorted(set(touched.get("demandes", [])) | demandes)
    touched["jumelages"] = sorted(set(touched.get("jumelages", [])) | touches)
