"""The DOS exports' pages (issue 7): a page listing them, and the files, within the agent's
perimeter, in every phase (the services read and export even once the campaign is read only;
see docs/ARCHITECTURE.md)."""

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from bmp.models import Campagne

from . import exports
from .access import reserve_aux_gestionnaires

OUI = ("1", "oui", "on", "true")


class CampagneIntrouvable(Exception):
    def __init__(self, message: str, status: int = 404):
        super().__init__(message)
        self.status = status


def reponse_export(user, campagne: Campagne, quoi: str, format: str, *, supprimes: bool = False) -> HttpResponse:
    """The export as an attachment (for these pages and the admin): `quoi` is "jumelages" or
    "bmp-non-jumeles", `format` "csv" or "xlsx"; exports.ExportError for anything else."""
    contenu, content_type, nom = exports.exporter(user, campagne, quoi, format, supprimes=supprimes)
    response = HttpResponse(contenu, content_type=content_type)
    response.headers["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=nom)
    patch_cache_control(response, private=True, no_store=True)  # names of people: kept by nobody on the way
    return response


def campagne_demandee(valeur: str | None) -> Campagne:
    """The campaign of `?campagne=<pk>`, the latest one when absent."""
    if not valeur:
        campagne = Campagne.objects.courante()
        if campagne is None:
            raise CampagneIntrouvable("Aucune campagne n'existe encore : il n'y a rien à exporter.")
        return campagne
    try:
        pk = int(valeur)
    except ValueError:
        raise CampagneIntrouvable(f"Campagne inconnue : « {valeur} ».", status=400) from None
    campagne = Campagne.objects.filter(pk=pk).first()
    if campagne is None:
        raise CampagneIntrouvable(f"La campagne n° {pk} n'existe pas.")
    return campagne


def _erreur(request, message: str, status: int):
    return render(request, "dos/exports_erreur.html", {"title": "Export impossible", "message": message}, status=status)


@reserve_aux_gestionnaires
@require_safe
def export(request, quoi: str, format: str):
    """/dos/exports/<jumelages|bmp-non-jumeles>.<csv|xlsx>?campagne=<pk>[&supprimes=1]"""
    try:
        campagne = campagne_demandee(request.GET.get("campagne"))
    except CampagneIntrouvable as erreur:
        return _erreur(request, str(erreur), erreur.status)
    supprimes = request.GET.get("supprimes", "").lower() in OUI
    try:
        return reponse_export(request.user, campagne, quoi, format, supprimes=supprimes)
    except exports.ExportError as erreur:
        return _erreur(request, str(erreur), 404)


@reserve_aux_gestionnaires
@require_safe
def liste(request):
    """The exports of a campaign (the latest by default), ready to download."""
    try:
        campagne = campagne_demandee(request.GET.get("campagne"))
    except CampagneIntrouvable as erreur:
        return _erreur(request, str(erreur), erreur.status)
    fichiers = []
    for quoi, libelle, supprimes in (
        (exports.JUMELAGES, "Jumelages actifs", False),
        (exports.JUMELAGES, "Jumelages, y compris les jumelages supprimés", True),
        (exports.BMP_NON_JUMELES, "BMP non jumelés", False),
    ):
        liens = []
        for format in exports.FORMATS:
            query = f"?campagne={campagne.pk}" + ("&supprimes=1" if supprimes else "")
            url = reverse("dos:export", kwargs={"quoi": quoi, "format": format}) + query
            liens.append((format.upper(), url))
        fichiers.append((libelle, liens))
    return render(
        request,
        "dos/exports.html",
        {
            "title": "Exports",
            "campagne": campagne,
            "campagnes": Campagne.objects.order_by("-annee"),
            "fichiers": fichiers,
            "perimetre": exports.perimetre_du_fichier(request.user),
        },
    )
