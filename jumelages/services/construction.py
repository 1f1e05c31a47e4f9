"""The operations on a jumelage itself: build it (and preview that), validate it, re-attach it, delete it.

A service builds a jumelage of 2 or 3 BMPs (same discipline, different schools, same
campaign), effective as it is: a school that agrees does nothing, a school that disagrees
deletes it with a motive. The services validate jumelages during the validation phase; the
DOS may change the établissement de rattachement. examine_jumelage previews a construction
without writing anything.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from bmp.models import BMP, Campagne
from establishments.models import Commune, Discipline, Etablissement

from ..enums import OrigineJumelage, TypeEvenement
from ..models import Jumelage, avertissement_total
from .calendar import (
    CONSTRUCTION,
    RATTACHEMENT,
    SUPPRESSION,
    VALIDATION,
    Acteur,
    _comma_list,
    autoriser,
    format_instant,
)
from .composition import _compose, _default_rattachement, _over_maximum
from .endings import _demandes_involving, _lapse_or_expire
from .errors import WorkflowError
from .events import _record_operation
from .locks import _lock_bmps, _lock_jumelage, _lock_jumelages, _situation, _with_retry
from .requests import valider_motif


def _load_jumelage(jumelage) -> tuple[Jumelage, list]:
    """The jumelage read again, with its member BMPs in order (not locked yet)."""
    j = Jumelage.objects.select_related("campagne", "discipline", "rattachement").get(pk=jumelage.pk)
    membres = [a.bmp for a in j.appartenances.select_related("bmp__etablissement").order_by("position")]
    return j, membres


def _load_and_authorize(user, jumelage, operation: str) -> tuple[Jumelage, list, Acteur]:
    """The jumelage, its member BMPs, and who acts on it: one of its schools or their service."""
    j, membres = _load_jumelage(jumelage)
    etablissements = [m.etablissement for m in membres]
    acteur = autoriser(user, operation, j.campagne, etablissements, refus=_jumelage_refusal(etablissements))
    return j, membres, acteur


def _jumelage_refusal(etablissements) -> str:
    """The sentence for a user who may not act on this jumelage."""
    return (
        f"Seuls les établissements du jumelage ({_comma_list(etablissements)}) et leurs services peuvent agir sur lui."
    )


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


def _examine(user, ids: list[int], rattachement_id: int | None) -> Examen:
    """Every reason build_jumelage would refuse these BMPs (by id), in the order it checks them."""
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
    raison = _over_maximum(membres)
    if raison:
        problemes.append(f"Ce jumelage n'est pas possible : {raison}.")
    examen.rattachement_id = rattachement_id or _default_rattachement(membres)
    return examen


def examine_jumelage(user, bmps, rattachement: Etablissement | None = None) -> Examen:
    """The preview of build_jumelage, writing nothing: the members with their school and discipline,
    the total against the target, the default school of attachment, and every problem."""
    ids = [b.pk if isinstance(b, BMP) else int(b) for b in bmps]
    examen = _examine(user, ids, rattachement.pk if rattachement else None)
    disciplines = {d.pk: d for d in Discipline.objects.filter(pk__in={m.discipline_id for m in examen.membres})}
    communes = Commune.objects.in_bulk({m.etablissement.commune_id for m in examen.membres})
    for m in examen.membres:
        m.discipline = disciplines[m.discipline_id]
        m.etablissement.commune = communes[m.etablissement.commune_id]
    return examen


def build_jumelage(user, bmps, rattachement: Etablissement | None = None) -> Jumelage:
    """A service builds a jumelage of 2 or 3 BMPs, effective as it is: no school needs to act.

    Same discipline, different schools, same campaign, all within the service's perimeter;
    the établissement de rattachement is the school holding most hours unless given.
    The pending requests these BMPs can no longer satisfy become caduque.
    """
    ids = [b.pk if isinstance(b, BMP) else int(b) for b in bmps]

    def operation():
        with transaction.atomic():
            _lock_bmps(ids)
            examen = _examine(user, ids, rattachement.pk if rattachement else None)
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
            _compose(jumelage, membres, now=now, rattachement_id=rattachement.pk if rattachement else None)
            _record_operation(
                TypeEvenement.JUMELAGE_CREE,
                acteur=acteur,
                date=now,
                campagne_id=campagne.pk,
                jumelage=jumelage,
                donnees={"total_heures": str(jumelage.total_heures)},
                bmp_ids=set(ids),
                etablissement_ids={m.etablissement_id for m in membres},
            )
            _lapse_or_expire(_demandes_involving(ids), now=now)
            return jumelage

    return _with_retry(operation)


def validate_jumelage(user, jumelage: Jumelage) -> None:
    """A service validates a jumelage during the validation phase (the campaign calendar's rule)."""

    def operation():
        with transaction.atomic():
            j, membres, acteur = _load_and_authorize(user, jumelage, VALIDATION)
            j = _lock_jumelage(j, membres)
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
            _record_operation(
                TypeEvenement.JUMELAGE_VALIDE,
                acteur=acteur,
                date=now,
                campagne_id=j.campagne_id,
                jumelage=j,
                bmp_ids={m.pk for m in membres},
                etablissement_ids={m.etablissement_id for m in membres},
            )

    _with_retry(operation)
    jumelage.refresh_from_db()


def set_rattachement(user, jumelage: Jumelage, etablissement: Etablissement) -> None:
    """The DOS changes the établissement de rattachement (our decision); it is kept from then on."""
    with transaction.atomic():
        j, membres, acteur = _load_and_authorize(user, jumelage, RATTACHEMENT)
        j = _lock_jumelages([j.pk])[j.pk]
        if not j.actif:
            raise WorkflowError(f"Ce jumelage a été supprimé le {format_instant(j.supprime_le)}.")
        if etablissement.pk not in {m.etablissement_id for m in membres}:
            raise WorkflowError("L'établissement de rattachement doit être l'un des établissements du jumelage.")
        if etablissement.pk == j.rattachement_id:
            raise WorkflowError(f"{etablissement} est déjà l'établissement de rattachement de ce jumelage.")
        ancien = j.rattachement
        j.rattachement, j.rattachement_choisi = etablissement, True
        j.save(update_fields=["rattachement", "rattachement_choisi"])
        _record_operation(
            TypeEvenement.RATTACHEMENT_MODIFIE,
            acteur=acteur,
            campagne_id=j.campagne_id,
            jumelage=j,
            donnees={"ancien": ancien.uai, "nouveau": etablissement.uai},
            bmp_ids={m.pk for m in membres},
            etablissement_ids={m.etablissement_id for m in membres},
        )
    jumelage.refresh_from_db()


def delete_jumelage(user, jumelage: Jumelage, motif, commentaire: str = "") -> None:
    """Delete an effective jumelage with a motive from the list: by one of its schools or a service.

    The requests to this jumelage become caduque; its BMPs are free again.
    """

    def operation():
        with transaction.atomic():
            j, membres, acteur = _load_and_authorize(user, jumelage, SUPPRESSION)
            j = _lock_jumelage(j, membres)
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
            _record_operation(
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
            _lapse_or_expire(_demandes_involving([m.pk for m in membres], [j.pk]), now=now)

    _with_retry(operation)
    jumelage.refresh_from_db()
