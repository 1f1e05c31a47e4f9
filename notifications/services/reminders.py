"""Reminders before a request's deadline (our addition to the domain's rules)."""

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from bmp.models import Campagne
from jumelages.enums import EtatDemande
from jumelages.models import Demande, JumelageBMP
from jumelages.services import instant_de_cloture

from ..enums import RAPPEL_ECHEANCE, StatutEnvoi
from ..models import Notification
from .outbox import addresses, new_row, send_on_commit


def envoyer_rappels(now: datetime.datetime | None = None) -> int:
    """Remind the school(s) that must answer a pending request, JUMO_RAPPEL_AVANT_ECHEANCE_HEURES
    before it ends (its deadline, or the campaign's closing if that comes first).

    Our addition to the domain's rules, off when settings.JUMO_RAPPELS_ACTIFS is false. A
    periodic sweep, never a task scheduled ahead: idempotent (at most one reminder per request
    and school, a unique key; two sweeps at once insert it once), a constant number of
    queries. Returns how many reminders were written.
    """
    if not settings.JUMO_RAPPELS_ACTIFS:
        return 0
    now = now or timezone.now()
    avance = datetime.timedelta(hours=settings.JUMO_RAPPEL_AVANT_ECHEANCE_HEURES)
    filtre = Q(pk__in=[])
    for campagne in Campagne.objects.all():
        cloture = instant_de_cloture(campagne)
        if now >= cloture:
            continue
        if cloture <= now + avance:
            filtre |= Q(campagne_id=campagne.pk, echeance__gt=now)
        else:
            filtre |= Q(campagne_id=campagne.pk, echeance__gt=now, echeance__lte=now + avance)
    deja = Notification.objects.filter(type=RAPPEL_ECHEANCE, demande_id=OuterRef("pk"))
    demandes = list(
        Demande.objects.filter(filtre, etat=EtatDemande.EN_ATTENTE)
        .filter(~Exists(deja))
        .values_list("pk", "campagne_id", "cible__etablissement_id", "cible_jumelage_id")
    )
    if not demandes:
        return 0
    membres: dict[int, list[int]] = {}
    for jumelage_id, etablissement_id in JumelageBMP.objects.filter(
        actif=True, jumelage_id__in={d[3] for d in demandes if d[3]}
    ).values_list("jumelage_id", "etablissement_id"):
        membres.setdefault(jumelage_id, []).append(etablissement_id)
    paires = []
    for pk, campagne_id, etablissement_cible, jumelage_id in demandes:
        for etablissement_id in [etablissement_cible] if etablissement_cible else membres.get(jumelage_id, []):
            paires.append((pk, campagne_id, jumelage_id, etablissement_id))
    adresses = addresses({p[3] for p in paires})
    lignes = [
        new_row(
            now,
            adresses[etablissement_id],
            type=RAPPEL_ECHEANCE,
            demande_id=pk,
            jumelage_id=jumelage_id,
            campagne_id=campagne_id,
            etablissement_id=etablissement_id,
        )
        for pk, campagne_id, jumelage_id, etablissement_id in paires
    ]
    with transaction.atomic():
        # A concurrent sweep may have written some of them already: those are skipped, and
        # ours are recognised by the Message-IDs we drew.
        Notification.objects.bulk_create(lignes, ignore_conflicts=True)
        ecrites = list(
            Notification.objects.filter(message_id__in=[n.message_id for n in lignes]).values_list("pk", "statut")
        )
        send_on_commit([pk for pk, statut in ecrites if statut == StatutEnvoi.A_ENVOYER])
    return len(ecrites)
