"""The campaign dashboard page of the DOS (issue 7): /dos/tableau-de-bord/?campagne=<pk>."""

from urllib.parse import urlencode

from django.shortcuts import render
from django.urls import reverse

from bmp.models import Campagne
from jumelages.enums import EtatDemande

from . import tableau as service
from .access import reserve_aux_gestionnaires

# The lists of the page show at most this many rows each; the admin has them all.
LIGNES_MAX = 200


def _lien(nom: str, **filtres) -> str:
    """An admin changelist filtered as its list_filter would do it."""
    return f"{reverse(nom)}?{urlencode(filtres)}"


def _graphique(lignes) -> dict:
    """The figures of a chart, the same as the table beside it."""
    return {
        "libelles": [ligne.code for ligne in lignes],
        "noms": [ligne.nom for ligne in lignes],
        "parts": [float(ligne.part) if ligne.part is not None else None for ligne in lignes],
        "heures": [float(ligne.heures) for ligne in lignes],
        "heures_jumelees": [float(ligne.heures_jumelees) for ligne in lignes],
    }


def _description(titre: str, lignes) -> str:
    """The text alternative of a chart: every bar's figure, in French."""
    valeurs = " ; ".join(f"{ligne.code} : {ligne.part_texte}" for ligne in lignes)
    return f"{titre}. {valeurs or 'aucun BMP'}. Les chiffres détaillés figurent dans le tableau qui suit."


@reserve_aux_gestionnaires
def tableau_de_bord(request):
    """The dashboard of a campaign (the latest by default) within the agent's perimeter."""
    campagnes = list(Campagne.objects.order_by("-annee"))
    campagne = campagnes[0] if campagnes else None
    erreur = ""
    demandee = request.GET.get("campagne", "").strip()
    if demandee:
        campagne = next((c for c in campagnes if str(c.pk) == demandee), None)
        if campagne is None:
            erreur = "La campagne demandée n'existe pas : choisissez une campagne dans la liste."
    # The banner of the page (templates/base.html, the context processor) shows the campaign chosen here.
    request.campagne_affichee = campagne
    contexte = {"title": "Tableau de bord de la campagne", "campagnes": campagnes, "campagne": campagne}
    if erreur:
        return render(request, "dos/tableau.html", {**contexte, "erreur": erreur}, status=404)
    if campagne is None:
        return render(request, "dos/tableau.html", contexte)

    t = service.tableau_de_bord(request.user, campagne)
    c = campagne.pk
    contexte.update(
        tableau=t,
        title=f"Tableau de bord de la campagne {campagne.annee}",
        disciplines=[
            (
                ligne,
                _lien(
                    "admin:bmp_bmp_changelist", campagne__id__exact=c, actif__exact=1, discipline__id__exact=ligne.pk
                ),
                _lien(
                    "admin:jumelages_jumelage_changelist",
                    campagne__id__exact=c,
                    actif__exact=1,
                    discipline__id__exact=ligne.pk,
                ),
            )
            for ligne in t.disciplines
        ],
        departements=[
            (
                ligne,
                _lien(
                    "admin:bmp_bmp_changelist",
                    campagne__id__exact=c,
                    actif__exact=1,
                    etablissement__departement__id__exact=ligne.pk,
                ),
            )
            for ligne in t.departements
        ],
        lien_bmps=_lien("admin:bmp_bmp_changelist", campagne__id__exact=c, actif__exact=1),
        lien_jumelages=_lien("admin:jumelages_jumelage_changelist", campagne__id__exact=c, actif__exact=1),
        lien_demandes=_lien(
            "admin:jumelages_demande_changelist", campagne__id__exact=c, etat__exact=EtatDemande.EN_ATTENTE
        ),
        graphiques={
            "disciplines": _graphique(t.disciplines),
            "departements": _graphique(t.departements),
        },
        description_disciplines=_description("Part des heures de BMP jumelées par discipline", t.disciplines),
        description_departements=_description("Part des heures de BMP jumelées par département", t.departements),
        lignes_max=LIGNES_MAX,
    )
    return render(request, "dos/tableau.html", contexte)
