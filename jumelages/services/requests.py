"""Requests between schools: send, accept, refuse, cancel.

A school asks another school for a jumelage: a request from its BMP to the other's BMP,
or to a jumelage of two to make it three. One pending outgoing request per BMP, two when
the requester says the jumelage is meant to hold three BMPs. The other school has 72 hours
to answer (settings.JUMO_DELAI_REPONSE_HEURES); past the deadline a request can no longer
be accepted, even before the expiry sweep has run. Refusing needs a motive (valider_motif).
"""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bmp.models import BMP

from ..enums import EtatDemande, Motif, OrigineJumelage, TypeEvenement
from ..models import Demande, Jumelage, JumelageBMP
from .calendar import DEMANDE, Acteur, _comma_list, autoriser, delai_reponse, format_instant
from .composition import _compose, _over_maximum
from .endings import _demandes_involving, _end_pending, _lapse_or_expire
from .errors import WorkflowError
from .events import _record_operation
from .locks import (
    _bmps_to_lock,
    _extension_obstacle,
    _lock_bmps,
    _lock_demande,
    _lock_jumelages,
    _obstacle,
    _Retry,
    _Situation,
    _situation,
    _with_retry,
)


def _load_demande(demande) -> Demande:
    """The request read again, with its campaign and both ends (not locked yet)."""
    return Demande.objects.select_related("campagne", "bmp__etablissement", "cible__etablissement").get(pk=demande.pk)


def _recipient_etablissements(demande: Demande) -> list:
    """The schools that may answer: the requested BMP's, or those of the requested jumelage."""
    if demande.cible_id:
        return [demande.cible.etablissement]
    return [
        a.etablissement
        for a in JumelageBMP.objects.filter(jumelage_id=demande.cible_jumelage_id, actif=True).select_related(
            "etablissement"
        )
    ]


def _recipient_refusal(etablissements) -> str:
    """The sentence for a user who may not answer this request."""
    if len(etablissements) == 1:
        return f"Seul l'établissement destinataire, {etablissements[0]}, peut répondre à cette demande."
    return f"Seul un établissement du jumelage demandé ({_comma_list(etablissements)}) peut répondre à cette demande."


def _expired_message(demande: Demande) -> str:
    return f"Cette demande a expiré le {format_instant(demande.echeance)} : le délai de réponse est dépassé."


def _ended_message(demande: Demande) -> str:
    quand = format_instant(demande.terminee_le)
    return {
        EtatDemande.ACCEPTEE: f"Cette demande a déjà été acceptée le {quand}.",
        EtatDemande.REFUSEE: f"Cette demande a déjà été refusée le {quand}.",
        EtatDemande.ANNULEE: f"Cette demande a été annulée par l'établissement demandeur le {quand}.",
        EtatDemande.EXPIREE: _expired_message(demande),
        EtatDemande.CADUQUE: f"Cette demande est devenue caduque le {quand} : {demande.raison_caducite}.",
    }[demande.etat]


def _etablissements_of(demande: Demande, s: _Situation) -> set:
    """The schools a request concerns: both ends and the schools of the requested jumelage."""
    ids = {s.bmps[demande.bmp_id].etablissement_id}
    if demande.cible_id:
        ids.add(s.bmps[demande.cible_id].etablissement_id)
    ids |= {e.pk for e in s.etablissements(demande.cible_jumelage_id)}
    return ids


def _bmps_of(demande: Demande, s: _Situation) -> set:
    """The BMPs a request concerns: both ends and the members of the requested jumelage."""
    return {pk for pk in (demande.bmp_id, demande.cible_id, *s.membres.get(demande.cible_jumelage_id, [])) if pk}


def send_request(user, bmp: BMP, target, *, three: bool = False) -> Demande:
    """Send a request from one of the user's BMPs (the rule of requests: one pending, two for three BMPs).

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
            to_lock = _bmps_for_sending(_situation(bmp_ids, jumelage_ids), demandeur.pk, cible and cible.pk, jumelage)
            locked = _lock_bmps(to_lock)
            s = _situation(bmp_ids, jumelage_ids)
            if not _bmps_for_sending(s, demandeur.pk, cible and cible.pk, jumelage) <= locked:
                raise _Retry
            s.jumelages.update(_lock_jumelages(set(s.jumelages)))
            now = timezone.now()
            demandeur = s.bmps[demandeur.pk]
            _check_sending(demandeur, cible and s.bmps[cible.pk], jumelage and s.jumelages[jumelage.pk], three, s)

            # Requests of this BMP past their deadline are expired: they no longer hold a place.
            _end_pending(
                Q(bmp_id=demandeur.pk, echeance__lte=now), EtatDemande.EXPIREE, TypeEvenement.DEMANDE_EXPIREE, now=now
            )
            en_attente = list(
                Demande.objects.select_for_update(no_key=True)
                .filter(bmp_id=demandeur.pk, etat=EtatDemande.EN_ATTENTE)
                .order_by("pk")
            )
            _check_pending(demandeur, cible, jumelage, en_attente, three)
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
            _record_operation(
                TypeEvenement.DEMANDE_ENVOYEE,
                acteur=acteur,
                date=now,
                campagne_id=demande.campagne_id,
                demande=demande,
                jumelage=jumelage,
                donnees={"trois": three, "echeance": demande.echeance.isoformat()},
                bmp_ids=_bmps_of(demande, s),
                etablissement_ids=_etablissements_of(demande, s),
            )
            return demande

    return _with_retry(operation)


def _bmps_for_sending(s: _Situation, demandeur_id, cible_id, jumelage) -> set:
    """The BMPs whose state a new request depends on: both ends and the jumelage it would extend."""
    ids = {demandeur_id, cible_id} | set(s.membres.get(s.jumelage_de.get(demandeur_id), []))
    if jumelage is not None:
        ids |= set(s.membres.get(jumelage.pk, []))
    return ids - {None}


def _check_sending(demandeur: BMP, cible: BMP | None, jumelage: Jumelage | None, trois: bool, s: _Situation):
    """The rules a new request must meet, with the BMPs locked: active BMPs, free (or a jumelage of two
    with room for a third when asked), different schools, within the optional maximum."""
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
        raison = _extension_obstacle(jumelage.pk, demandeur, s)
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
        raison = _extension_obstacle(jumelage_du_demandeur, cible, s)
        if raison:
            raise WorkflowError(f"Ce BMP ne peut pas rejoindre le jumelage : {raison}.")
        return
    raison = _over_maximum([demandeur, cible])
    if raison:
        raise WorkflowError(f"Ce jumelage n'est pas possible : {raison}.")


def _check_pending(demandeur: BMP, cible, jumelage, en_attente: list, trois: bool):
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
    """Accept a request: creates the jumelage, or extends one to three; never one BMP in two jumelages.

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
            d = _load_demande(demande)
            destinataires = _recipient_etablissements(d)
            acteur = autoriser(user, DEMANDE, d.campagne, destinataires, refus=_recipient_refusal(destinataires))
            locked = _lock_bmps(_bmps_to_lock(d, _situation({d.bmp_id, d.cible_id}, {d.cible_jumelage_id})))
            s = _situation({d.bmp_id, d.cible_id}, {d.cible_jumelage_id})
            if not _bmps_to_lock(d, s) <= locked:
                raise _Retry
            s.jumelages.update(_lock_jumelages(set(s.jumelages)))
            d = _lock_demande(d.pk)
            now = timezone.now()
            if d.etat != EtatDemande.EN_ATTENTE:
                raise WorkflowError(_ended_message(d))
            if d.est_echue(now):
                _end_pending(Q(pk=d.pk), EtatDemande.EXPIREE, TypeEvenement.DEMANDE_EXPIREE, now=now)
                erreur = WorkflowError(_expired_message(d))
                return None
            raison = _obstacle(d, s)
            if raison:
                _end_pending(
                    Q(pk=d.pk), EtatDemande.CADUQUE, TypeEvenement.DEMANDE_CADUQUE, now=now, raisons={d.pk: raison}
                )
                erreur = WorkflowError(f"Cette demande ne peut plus aboutir : {raison}. Elle est désormais caduque.")
                return None
            return _accept(acteur, d, s, now)

    try:
        jumelage = _with_retry(operation)
    finally:
        demande.refresh_from_db()
    if erreur:
        raise erreur
    return jumelage


def _accept(acteur: Acteur, d: Demande, s: _Situation, now) -> Jumelage:
    """Carry out an acceptance, everything locked: a new jumelage of two, or a third BMP added to one;
    then the pending requests it made impossible become caduque."""
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
        _compose(jumelage, membres, now=now)
        type_evenement = TypeEvenement.DEMANDE_ACCEPTEE
    else:
        membres = [s.bmps[pk] for pk in s.membres[jumelage.pk]]
        _compose(jumelage, membres, nouveaux=[nouveau], now=now)
        membres.append(nouveau)
        type_evenement = TypeEvenement.JUMELAGE_ETENDU
    _answer_once(d, etat=EtatDemande.ACCEPTEE, terminee_le=now, terminee_par=acteur.utilisateur, jumelage=jumelage)
    _record_operation(
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
    _lapse_or_expire(_demandes_involving(ids, [jumelage.pk]), now=now)
    return jumelage


def _answer_once(d: Demande, **reponse):
    """Answer once: a conditional UPDATE … WHERE etat = 'en_attente' (the row is locked too)."""
    if not Demande.objects.filter(pk=d.pk, etat=EtatDemande.EN_ATTENTE).update(**reponse):
        raise WorkflowError("Cette demande vient de recevoir une autre réponse : rechargez la page.")


def refuse_request(user, demande: Demande, motif, commentaire: str = "") -> None:
    """Refuse a request with a motive from the list ("Autre" needs a comment); only before the deadline."""
    erreur = None
    try:
        with transaction.atomic():
            d = _load_demande(demande)
            destinataires = _recipient_etablissements(d)
            acteur = autoriser(user, DEMANDE, d.campagne, destinataires, refus=_recipient_refusal(destinataires))
            d = _lock_demande(d.pk)
            now = timezone.now()
            erreur = _check_still_pending(d, now)
            if erreur is None:
                motif, commentaire = valider_motif(motif, commentaire)
                _close(d, acteur, now, EtatDemande.REFUSEE, TypeEvenement.DEMANDE_REFUSEE, motif, commentaire)
    finally:
        demande.refresh_from_db()
    if erreur:
        raise erreur


def cancel_request(user, demande: Demande) -> None:
    """The requester cancels its pending request (it becomes annulée); only before the deadline."""
    erreur = None
    try:
        with transaction.atomic():
            d = _load_demande(demande)
            etablissement = d.bmp.etablissement
            acteur = autoriser(
                user,
                DEMANDE,
                d.campagne,
                [etablissement],
                refus=f"Seul l'établissement demandeur, {etablissement}, peut annuler cette demande.",
            )
            d = _lock_demande(d.pk)
            now = timezone.now()
            erreur = _check_still_pending(d, now)
            if erreur is None:
                _close(d, acteur, now, EtatDemande.ANNULEE, TypeEvenement.DEMANDE_ANNULEE)
    finally:
        demande.refresh_from_db()
    if erreur:
        raise erreur


def _check_still_pending(d: Demande, now) -> WorkflowError | None:
    """A request already ended raises; one past its deadline is expired now and its error returned."""
    if d.etat != EtatDemande.EN_ATTENTE:
        raise WorkflowError(_ended_message(d))
    if d.est_echue(now):
        _end_pending(Q(pk=d.pk), EtatDemande.EXPIREE, TypeEvenement.DEMANDE_EXPIREE, now=now)
        return WorkflowError(_expired_message(d))
    return None


def _close(d: Demande, acteur: Acteur, now, etat, type_evenement, motif="", commentaire=""):
    """End a pending request by a user's answer (refused, cancelled) and record its event."""
    _answer_once(d, etat=etat, terminee_le=now, terminee_par=acteur.utilisateur, motif=motif, commentaire=commentaire)
    s = _situation({d.bmp_id, d.cible_id}, {d.cible_jumelage_id})
    _record_operation(
        type_evenement,
        acteur=acteur,
        date=now,
        campagne_id=d.campagne_id,
        demande=d,
        jumelage_id=d.cible_jumelage_id,
        motif=motif,
        commentaire=commentaire,
        bmp_ids=_bmps_of(d, s),
        etablissement_ids=_etablissements_of(d, s),
    )


def valider_motif(motif, commentaire) -> tuple[str, str]:
    """Refusing a request or deleting a jumelage needs a motive from the list; with "Autre", a comment."""
    if motif not in Motif.values:
        raise WorkflowError(
            "Choisissez un motif : « Zones de remplacement différentes », « Quotité inadaptée » ou « Autre »."
        )
    commentaire = (commentaire or "").strip()
    if motif == Motif.AUTRE and not commentaire:
        raise WorkflowError("Avec le motif « Autre », un commentaire est obligatoire.")
    return str(motif), commentaire
