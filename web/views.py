"""The heads' pages (issue 6). Thin: they check who acts for which school, read through web.services,
act through jumelages.services, and redirect after every action (POST, then GET) with a message.

Authorization, on the server, for every page and every action: a user sees and acts only for
his schools; another school's objects answer 404. The phase rules are the workflow's: in a
read-only phase the forms are not shown, and the services refuse the actions anyway.
"""

from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from bmp.models import BMP
from jumelages import perimetres
from jumelages import services as workflow
from jumelages.enums import EtatDemande
from jumelages.forms import MotifForm
from jumelages.models import Demande, Jumelage
from jumelages.services import WorkflowError
from notifications import services as notifications
from notifications.models import Notification

from . import lectures, services
from .context_processors import ContexteJumo
from .db import prepared_statements
from .filters import PartenaireFilter
from .forms import ChoixEtablissementForm, ConnexionForm, DemandeForm

SESSION_ETABLISSEMENT = "jumo_etablissement_id"


# --- Who acts, for which school ------------------------------------------------------------------


def pour_un_etablissement(view):
    """Login required; sets request.etablissements (the user's schools) and request.etablissement
    (the one acted for, kept in the session). A user without a school gets a 403 page. The page's
    queries run as prepared statements (web.db)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        with prepared_statements():
            etablissements, campagne = lectures.etablissements_et_campagne(request.user)
            if not etablissements:
                if view.__name__ == "accueil" and perimetres.is_manager(request.user):
                    return redirect("dos:tableau_de_bord")  # an agent's home is the DOS dashboard
                return render(request, "web/sans_etablissement.html", {"title": "Accès réservé"}, status=403)
            choisi = request.session.get(SESSION_ETABLISSEMENT)
            request.etablissements = etablissements
            request.etablissement = next((e for e in etablissements if e.pk == choisi), etablissements[0])
            request.jumo = ContexteJumo(request, campagne=campagne)
            return view(request, *args, **kwargs)

    return wrapper


def _agir_pour(request, etablissement_ids) -> None:
    """The object must concern one of the user's schools (else 404); act for it if it is another one."""
    if request.etablissement.pk in etablissement_ids:
        return
    for etablissement in request.etablissements:
        if etablissement.pk in etablissement_ids:
            request.session[SESSION_ETABLISSEMENT] = etablissement.pk
            request.etablissement = etablissement
            messages.info(request, f"Vous agissez maintenant pour {etablissement.nom} ({etablissement.uai}).")
            return
    raise Http404("Cette page n'existe pas ou ne concerne pas vos établissements.")


def _ferme(request, campagne):
    """The page saying the campaign is closed to schools (archivée), or None."""
    refus = services.acces_refuse(campagne)
    if refus:
        return render(request, "web/ferme.html", {"title": "Campagne archivée", "refus": refus}, status=403)
    return None


def _post_seulement(request):
    return None if request.method == "POST" else HttpResponseNotAllowed(["POST"])


def _mon_bmp(request, bmp_pk) -> BMP:
    bmp = lectures.bmp(bmp_pk)
    if bmp is None:
        raise Http404("Ce BMP n'existe pas.")
    _agir_pour(request, {bmp.etablissement_id})
    return bmp


def _ma_demande(request, demande_pk) -> Demande:
    try:
        demande = services.demande_detail(demande_pk)
    except Demande.DoesNotExist as exc:
        raise Http404 from exc
    ids = {demande.bmp.etablissement_id, demande.cible.etablissement_id if demande.cible_id else None}
    ids |= {a.etablissement_id for a in demande.membres_cible}
    if not ids & {e.pk for e in request.etablissements}:
        ids = services.etablissements_de_la_demande(demande)  # a jumelage's former members
    _agir_pour(request, ids)
    return demande


def _mon_jumelage(request, jumelage_pk) -> Jumelage:
    jumelage = get_object_or_404(Jumelage.objects.select_related("campagne"), pk=jumelage_pk)
    _agir_pour(request, services.etablissements_du_jumelage(jumelage))
    return jumelage


# --- Login, logout, school switch -------------------------------------------------------------------


class ConnexionView(auth_views.LoginView):
    template_name = "web/connexion.html"
    authentication_form = ConnexionForm
    redirect_authenticated_user = True
    extra_context = {"title": "Connexion"}


class DeconnexionView(auth_views.LogoutView):
    pass


@pour_un_etablissement
def choisir_etablissement(request):
    if (refus := _post_seulement(request)) is not None:
        return refus
    form = ChoixEtablissementForm(request.POST, etablissements=request.etablissements)
    if form.is_valid():
        pk = int(form.cleaned_data["etablissement"])
        request.session[SESSION_ETABLISSEMENT] = pk
        choisi = next(e for e in request.etablissements if e.pk == pk)
        messages.success(request, f"Vous agissez maintenant pour {choisi.nom} ({choisi.uai}).")
    else:
        messages.error(request, "Choisissez l'un de vos établissements.")
    suivant = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(suivant, allowed_hosts={request.get_host()}) or "/bmp/" in suivant:
        suivant = reverse("web:accueil")
    return redirect(suivant)


# --- Accueil : mes BMP ------------------------------------------------------------------------------


@pour_un_etablissement
def accueil(request):
    campagne = request.jumo.campagne
    context = {"title": "Mes BMP", "refus": services.acces_refuse(campagne)}
    if campagne is not None and not context["refus"]:
        context["disciplines"] = services.mes_bmp(request.etablissement, campagne)
        context["actions"] = services.actions_ouvertes(campagne)
    return render(request, "web/accueil.html", context)


# --- Trouver un partenaire, outil de localisation ------------------------------------------------------


def _recherche(request, bmp_pk, par_page):
    bmp = _mon_bmp(request, bmp_pk)
    filtre = PartenaireFilter(request.GET or None, queryset=BMP.objects.none())
    recherche = services.rechercher_partenaires(
        bmp,
        request.etablissement,
        filtre.valeurs() if filtre.is_bound else {},
        page=request.GET.get("page") or 1,
        par_page=par_page,
    )
    parametres = request.GET.copy()
    parametres.pop("page", None)
    return bmp, filtre, recherche, parametres.urlencode()


@pour_un_etablissement
def partenaires(request, bmp_pk):
    bmp, filtre, recherche, parametres = _recherche(request, bmp_pk, par_page=20)
    if (ferme := _ferme(request, bmp.campagne)) is not None:
        return ferme
    context = {
        "title": f"Trouver un partenaire pour le BMP {bmp.identifiant}",
        "bmp": bmp,
        "filtre": filtre,
        "recherche": recherche,
        "parametres": parametres,
        "actions": services.actions_ouvertes(bmp.campagne),
    }
    return render(request, "web/partenaires.html", context)


@pour_un_etablissement
def carte(request, bmp_pk):
    bmp, filtre, recherche, parametres = _recherche(request, bmp_pk, par_page=50)
    if (ferme := _ferme(request, bmp.campagne)) is not None:
        return ferme
    context = {
        "title": f"Outil de localisation – BMP {bmp.identifiant}",
        "bmp": bmp,
        "filtre": filtre,
        "recherche": recherche,
        "parametres": parametres,
        "carte": services.carte(recherche, settings.JUMO_TILE_URL),
        "tile_attribution": settings.JUMO_TILE_ATTRIBUTION,
        "actions": services.actions_ouvertes(bmp.campagne),
    }
    return render(request, "web/carte.html", context)


@pour_un_etablissement
def proposer(request, bmp_pk, cible_pk):
    """Send a request from my BMP to a BMP the partner search shows (or to its jumelage of two)."""
    bmp = _mon_bmp(request, bmp_pk)
    if (ferme := _ferme(request, bmp.campagne)) is not None:
        return ferme
    candidat = services.candidat(bmp, request.etablissement, cible_pk)
    if candidat is None:
        raise Http404("Ce BMP n'est pas proposé comme partenaire de votre BMP.")
    recherche = services.search_context(bmp, request.etablissement)
    form = DemandeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        cible = Jumelage.objects.get(pk=candidat.jumelage_id) if candidat.jumelage_id else BMP.objects.get(pk=cible_pk)
        trois = form.cleaned_data["trois"] or recherche.mode == "troisieme" or candidat.jumelage_id is not None
        try:
            demande = workflow.send_request(request.user, bmp, cible, three=trois)
        except WorkflowError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                f"Votre demande a été envoyée à {candidat.etablissement.nom} ; "
                f"réponse attendue avant le {workflow.format_instant(demande.echeance)}.",
            )
            return redirect("web:demande", demande_pk=demande.pk)
    context = {
        "title": "Proposer un jumelage",
        "bmp": bmp,
        "candidat": candidat,
        "recherche": recherche,
        "form": form,
        "actions": services.actions_ouvertes(bmp.campagne),
    }
    return render(request, "web/proposer.html", context)


# --- Demandes ----------------------------------------------------------------------------------------


@pour_un_etablissement
def demandes(request):
    campagne = request.jumo.campagne
    context = {"title": "Demandes", "refus": services.acces_refuse(campagne)}
    if campagne is not None and not context["refus"]:
        context["recues"], context["envoyees"] = services.demandes_de(request.etablissement, campagne)
        context["actions"] = services.actions_ouvertes(campagne)
    return render(request, "web/demandes.html", context)


def _page_demande(request, demande, *, motif_form=None, erreur="", status=200):
    etablissement = request.etablissement
    en_attente = demande.etat_vu == EtatDemande.EN_ATTENTE
    actions = services.actions_ouvertes(demande.campagne) and en_attente
    if motif_form is not None and motif_form.non_field_errors() and not actions:
        erreur = " ".join(motif_form.non_field_errors())  # the form is not shown any more
    context = {
        "title": f"Demande n° {demande.pk}",
        "demande": demande,
        "historique": services.historique_demande(demande),
        "peut_repondre": actions and services.peut_repondre(demande, etablissement),
        "peut_annuler": actions and demande.bmp.etablissement_id == etablissement.pk,
        "motif_form": motif_form or MotifForm(),
        "erreur": erreur,
        "lecture_seule": not services.actions_ouvertes(demande.campagne),
    }
    return render(request, "web/demande.html", context, status=status)


@pour_un_etablissement
def demande(request, demande_pk):
    d = _ma_demande(request, demande_pk)
    if (ferme := _ferme(request, d.campagne)) is not None:
        return ferme
    return _page_demande(request, d)


@pour_un_etablissement
def accepter(request, demande_pk):
    d = _ma_demande(request, demande_pk)
    if (refus := _post_seulement(request)) is not None:
        return refus
    try:
        jumelage = workflow.accept_request(request.user, d)
    except WorkflowError as error:
        return _page_demande(request, services.demande_detail(d.pk), erreur=str(error))
    messages.success(request, f"Demande acceptée : le jumelage n° {jumelage.pk} est constitué.")
    return redirect("web:jumelage", jumelage_pk=jumelage.pk)


@pour_un_etablissement
def refuser(request, demande_pk):
    d = _ma_demande(request, demande_pk)
    if (refus := _post_seulement(request)) is not None:
        return refus
    form = MotifForm(request.POST)
    if form.is_valid():
        try:
            workflow.refuse_request(request.user, d, form.cleaned_data["motif"], form.cleaned_data["commentaire"])
        except WorkflowError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Demande refusée. L'établissement demandeur en est informé.")
            return redirect("web:demande", demande_pk=d.pk)
    return _page_demande(request, services.demande_detail(d.pk), motif_form=form)


@pour_un_etablissement
def annuler(request, demande_pk):
    d = _ma_demande(request, demande_pk)
    if (refus := _post_seulement(request)) is not None:
        return refus
    try:
        workflow.cancel_request(request.user, d)
    except WorkflowError as error:
        return _page_demande(request, services.demande_detail(d.pk), erreur=str(error))
    messages.success(request, "Demande annulée.")
    return redirect("web:demande", demande_pk=d.pk)


# --- Jumelage : composition, historique, suppression ---------------------------------------------------


def _page_jumelage(request, jumelage, *, motif_form=None):
    vue = services.jumelage_detail(jumelage.pk, request.etablissement)
    peut_supprimer = vue.jumelage.actif and services.actions_ouvertes(vue.jumelage.campagne)
    erreur = ""
    if motif_form is not None and motif_form.non_field_errors() and not peut_supprimer:
        erreur = " ".join(motif_form.non_field_errors())  # the form is not shown any more
    context = {
        "erreur": erreur,
        "title": f"Jumelage n° {jumelage.pk}",
        "vue": vue,
        "jumelage": vue.jumelage,
        "historique": services.historique(vue.jumelage),
        "peut_supprimer": peut_supprimer,
        "motif_form": motif_form or MotifForm(),
    }
    return render(request, "web/jumelage.html", context)


@pour_un_etablissement
def jumelage(request, jumelage_pk):
    j = _mon_jumelage(request, jumelage_pk)
    if (ferme := _ferme(request, j.campagne)) is not None:
        return ferme
    return _page_jumelage(request, j)


@pour_un_etablissement
def supprimer_jumelage(request, jumelage_pk):
    j = _mon_jumelage(request, jumelage_pk)
    if (refus := _post_seulement(request)) is not None:
        return refus
    form = MotifForm(request.POST)
    if form.is_valid():
        try:
            workflow.delete_jumelage(request.user, j, form.cleaned_data["motif"], form.cleaned_data["commentaire"])
        except WorkflowError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Jumelage supprimé. Les établissements concernés en sont informés.")
            return redirect("web:jumelage", jumelage_pk=j.pk)
    return _page_jumelage(request, j, motif_form=form)


# --- Notifications ---------------------------------------------------------------------------------------


@pour_un_etablissement
def liste_notifications(request):
    page = Paginator(notifications.notifications_for(request.etablissement), 20).get_page(request.GET.get("page"))
    return render(request, "web/notifications.html", {"title": "Notifications", "page": page})


@pour_un_etablissement
def notifications_lues(request):
    if (refus := _post_seulement(request)) is not None:
        return refus
    nombre = notifications.mark_read(request.etablissement)
    messages.success(request, f"{nombre} notification(s) marquée(s) comme lue(s).")
    return redirect("web:notifications")


@pour_un_etablissement
def notification_lue(request, notification_pk):
    """Mark one notification read and open its page (the link of its mail)."""
    notification = get_object_or_404(
        Notification.objects.filter(etablissement__in=request.etablissements), pk=notification_pk
    )
    _agir_pour(request, {notification.etablissement_id})
    if (refus := _post_seulement(request)) is not None:
        return refus
    notifications.mark_read(request.etablissement, [notification])
    return redirect(urlsplit(notifications.lien(notification)).path)


# --- Pages of the footer -----------------------------------------------------------------------------------


def page(template, title):
    def view(request):
        return render(request, template, {"title": title})

    view.__name__ = template.rsplit("/", 1)[-1].removesuffix(".html")
    return view
