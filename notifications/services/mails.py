"""The text of the mails: the templates of templates/notifications/mails/<type>/ (subject.txt,
body.txt, body.html), their context, and the message built from a row."""

import re
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core import mail
from django.template import Context
from django.template.loader import get_template

from bmp.models import BMP
from establishments.models import Etablissement
from jumelages.enums import TypeEvenement
from jumelages.models import JumelageBMP, format_heures, nom_auteur
from jumelages.services import format_instant, instant_de_cloture

from ..models import Notification

TYPES_JUMELAGE = {
    TypeEvenement.JUMELAGE_CREE,
    TypeEvenement.JUMELAGE_ETENDU,
    TypeEvenement.JUMELAGE_SUPPRIME,
    TypeEvenement.JUMELAGE_VALIDE,
    TypeEvenement.RATTACHEMENT_MODIFIE,
    TypeEvenement.DEMANDE_ACCEPTEE,
}
TYPES_BMP = {TypeEvenement.BMP_MODIFIE, TypeEvenement.BMP_RETIRE, TypeEvenement.BMP_RESTAURE}


@dataclass
class BMPLine:
    """A BMP as the mails show it."""

    identifiant: str
    etablissement: Etablissement
    valeur: Decimal
    discipline: object
    chez_le_destinataire: bool

    @property
    def heures(self) -> str:
        return format_heures(self.valeur)


def _bmp_line(bmp: BMP, destinataire_id: int, heures=None) -> BMPLine:
    return BMPLine(
        identifiant=bmp.identifiant,
        etablissement=bmp.etablissement,
        valeur=Decimal(heures) if heures is not None else bmp.heures,
        discipline=bmp.discipline,
        chez_le_destinataire=bmp.etablissement_id == destinataire_id,
    )


def _author(evenement) -> dict:
    """The author as the mail names him, worded by the event (Evenement.auteur_libelle): a
    refusal or a deletion says « par Prénom NOM (UAI) », the UAI of his school, or of the
    service when a DOS agent acted."""
    par_jumo = evenement.par_jumo
    return {
        "nom": "" if par_jumo else nom_auteur(evenement.auteur),
        "uai": evenement.auteur_uai,
        "designation": evenement.auteur_libelle(),
        "service": evenement.pour_service,
        "etablissement": evenement.pour_etablissement,
    }


def lien(notification: Notification) -> str:
    """The page in JUMO: /jumelages/<id>/ for a jumelage, /demandes/<id>/ for a request."""
    base = settings.JUMO_BASE_URL.rstrip("/")
    vers_jumelage = notification.type in TYPES_JUMELAGE or notification.type in TYPES_BMP
    if notification.jumelage_id and (vers_jumelage or not notification.demande_id):
        return f"{base}/jumelages/{notification.jumelage_id}/"
    if notification.demande_id:
        return f"{base}/demandes/{notification.demande_id}/"
    return f"{base}/"


def mail_context(notification: Notification) -> dict:
    """Everything the templates of notifications/mails/<type>/ may show."""
    n = notification
    destinataire_id = n.etablissement_id
    evenement, demande, jumelage = n.evenement, n.demande, n.jumelage
    donnees = evenement.donnees if evenement else {}
    ctx = {
        "type": n.type,
        "destinataire": n.etablissement,
        "adresse": n.adresse,
        "lien": lien(n),
        "evenement": evenement,
        "auteur": _author(evenement) if evenement else None,
        "date": format_instant(evenement.date if evenement else n.cree_le),
        "motif": evenement.get_motif_display() if evenement and evenement.motif else "",
        "commentaire": evenement.commentaire if evenement else "",
        "campagne": n.campagne,
    }
    membres = []
    if jumelage is not None:
        appartenances = list(jumelage.appartenances.all())
        actives = [a for a in appartenances if a.actif]
        membres = [_bmp_line(a.bmp, destinataire_id) for a in (actives or appartenances)]
    if demande is not None:
        demandeur = _bmp_line(demande.bmp, destinataire_id)
        if demande.cible_id:
            cibles = [_bmp_line(demande.cible, destinataire_id)]
        elif jumelage is not None and jumelage.pk == demande.cible_jumelage_id:
            cibles = [m for m in membres if m.identifiant != demandeur.identifiant]
        else:
            cibles = [
                _bmp_line(a.bmp, destinataire_id)
                for a in JumelageBMP.objects.filter(jumelage_id=demande.cible_jumelage_id, actif=True)
                .select_related("bmp__etablissement", "bmp__discipline")
                .order_by("position")
            ]
        cloture = instant_de_cloture(demande.campagne)
        total = demandeur.valeur + sum((c.valeur for c in cibles), Decimal(0))
        ctx.update(
            demande=demande,
            demandeur=demandeur,
            cibles=cibles,
            vers_jumelage=bool(demande.cible_jumelage_id),
            role="demandeur" if demande.bmp.etablissement_id == destinataire_id else "destinataire",
            discipline=demande.bmp.discipline,
            total_propose=format_heures(total),
            temps_plein=f"{demande.bmp.discipline.heures_temps_plein} h",
            echeance=format_instant(demande.echeance),
            limite=format_instant(min(demande.echeance, cloture)),
            limite_est_cloture=cloture < demande.echeance,
            raison=demande.raison_caducite or (evenement.commentaire if evenement else ""),
            etablissement_demandeur=demande.bmp.etablissement,
            etablissements_cibles=", ".join(str(c.etablissement) for c in cibles),
        )
    if jumelage is not None:
        total = donnees.get("total_heures") if n.type in TYPES_JUMELAGE or n.type in TYPES_BMP else None
        total = Decimal(total) if total else jumelage.total_heures
        ctx.update(
            jumelage=jumelage,
            membres=membres,
            total=format_heures(total),
            temps_plein=f"{jumelage.discipline.heures_temps_plein} h",
            au_dessus=total > jumelage.discipline.heures_temps_plein,
            discipline=jumelage.discipline,
            rattachement=jumelage.rattachement,
            nouveau=membres[-1] if n.type == TypeEvenement.JUMELAGE_ETENDU and membres else None,
        )
    if n.type in TYPES_BMP and evenement is not None:
        bmps = list(evenement.bmps.all())
        if bmps:
            bmp = _bmp_line(bmps[0], destinataire_id, heures=donnees.get("heures"))
            role = "titulaire" if bmp.chez_le_destinataire else "partenaire"
            ctx.update(bmp=bmp, discipline=bmp.discipline, role=role)
    if n.type == TypeEvenement.RATTACHEMENT_MODIFIE:
        ancien = donnees.get("ancien", "")
        ctx["ancien_rattachement"] = next((m.etablissement for m in membres if m.etablissement.uai == ancien), ancien)
    return ctx


def _template(type_notification: str, partie: str):
    return get_template(f"notifications/mails/{type_notification}/{partie}")


def _tidy(texte: str) -> str:
    """Templates leave blank lines where their tags stood: no trailing spaces, one blank line at most."""
    lignes = [ligne.rstrip() for ligne in texte.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lignes)) + "\n"


def render(notification: Notification) -> tuple[str, str, str]:
    """(subject, plain text, HTML) from templates/notifications/mails/<type>/."""
    ctx = mail_context(notification)
    texte_ctx = Context(ctx, autoescape=False)
    sujet = " ".join(_template(notification.type, "subject.txt").template.render(texte_ctx).split())
    texte = _tidy(_template(notification.type, "body.txt").template.render(Context(ctx, autoescape=False)))
    html = re.sub(r"<p>\s*</p>\s*", "", _template(notification.type, "body.html").render(ctx))
    return sujet[:255], texte, html


def build_message(notification: Notification) -> mail.EmailMultiAlternatives:
    """The mail of a row: multipart/alternative (plain text carrying the whole message, and HTML).

    Written from the templates on the first attempt and stored, so that every attempt
    sends the same text, under the row's own Message-ID.
    """
    if not notification.sujet:
        sujet, texte, html = render(notification)
        Notification.objects.filter(pk=notification.pk).update(sujet=sujet, texte=texte, html=html)
        notification.sujet, notification.texte, notification.html = sujet, texte, html
    message = mail.EmailMultiAlternatives(
        subject=notification.sujet,
        body=notification.texte,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.adresse],
        headers={
            "Message-ID": notification.message_id,
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
        },
    )
    message.attach_alternative(notification.html, "text/html")
    return message
