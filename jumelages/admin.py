"""Admin of requests, jumelages and their history; every change goes through jumelages.services."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join

from . import services
from .forms import ConstructionForm, MotifForm, RattachementForm
from .models import Demande, Evenement, Jumelage, JumelageBMP


class LectureSeuleMixin:
    """History and state are written by the services only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + list(getattr(self, "readonly_extra", []))


class EvenementInline(LectureSeuleMixin, admin.TabularInline):
    model = Evenement
    fields = ["date", "type", "auteur", "pour_etablissement", "pour_service", "motif", "commentaire"]
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "historique"
    ordering = ["date", "pk"]


class EvenementDemandeInline(EvenementInline):
    fk_name = "demande"


class EvenementJumelageInline(EvenementInline):
    fk_name = "jumelage"


class JumelageBMPInline(LectureSeuleMixin, admin.TabularInline):
    model = JumelageBMP
    fields = ["position", "bmp", "etablissement", "actif", "ajoute_le"]
    extra = 0
    can_delete = False
    verbose_name_plural = "BMP du jumelage"


def _appliquer(modeladmin, request, queryset, operation, reussite):
    """Call a service on each selected object; a refusal is shown with its French message."""
    faits = 0
    for obj in queryset:
        try:
            operation(request.user, obj)
            faits += 1
        except services.WorkflowError as error:
            modeladmin.message_user(request, f"{obj} : {error}", messages.ERROR)
    if faits:
        modeladmin.message_user(request, reussite.format(n=faits), messages.SUCCESS)


@admin.register(Demande)
class DemandeAdmin(LectureSeuleMixin, admin.ModelAdmin):
    list_display = ["pk", "bmp", "destinataire", "etat", "trois", "envoyee_le", "echeance", "terminee_le"]
    list_filter = ["etat", "campagne", "trois", "bmp__discipline", "bmp__etablissement__departement"]
    search_fields = [
        "=pk",
        "bmp__identifiant",
        "bmp__etablissement__uai",
        "cible__identifiant",
        "cible__etablissement__uai",
    ]
    list_select_related = ["bmp__etablissement", "bmp__discipline", "cible__etablissement", "cible__discipline"]
    date_hierarchy = "envoyee_le"
    inlines = [EvenementDemandeInline]
    actions = ["accepter", "annuler", "expirer_les_demandes_echues"]
    change_form_template = "admin/jumelages/demande/change_form.html"

    @admin.display(description="destinataire")
    def destinataire(self, obj):
        return obj.cible or obj.cible_jumelage

    @admin.action(description="Accepter les demandes sélectionnées")
    def accepter(self, request, queryset):
        _appliquer(self, request, queryset, services.accept_request, "{n} demande(s) acceptée(s).")

    @admin.action(description="Annuler les demandes sélectionnées (au nom du demandeur)")
    def annuler(self, request, queryset):
        _appliquer(self, request, queryset, services.cancel_request, "{n} demande(s) annulée(s).")

    @admin.action(description="Marquer comme expirées toutes les demandes échues")
    def expirer_les_demandes_echues(self, request, queryset):
        n = services.expire_overdue()
        self.message_user(request, f"{n} demande(s) expirée(s).", messages.SUCCESS)

    def get_urls(self):
        return [
            path("<int:pk>/refuser/", self.admin_site.admin_view(self.refuser), name="jumelages_demande_refuser"),
            *super().get_urls(),
        ]

    def refuser(self, request, pk):
        demande = get_object_or_404(Demande, pk=pk)
        form = MotifForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.refuse_request(
                    request.user, demande, form.cleaned_data["motif"], form.cleaned_data["commentaire"]
                )
            except services.WorkflowError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, "La demande a été refusée.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:jumelages_demande_change", args=[pk]))
        return _formulaire(self, request, form, f"Refuser la {demande}", demande)


@admin.register(Jumelage)
class JumelageAdmin(LectureSeuleMixin, admin.ModelAdmin):
    list_display = [
        "pk",
        "campagne",
        "discipline",
        "bmps_du_jumelage",
        "total_heures",
        "cible_heures",
        "rattachement",
        "origine",
        "actif",
        "valide",
        "a_revoir",
    ]
    list_filter = ["campagne", "actif", "origine", "valide", "a_revoir", "discipline"]
    search_fields = ["=pk", "bmps__identifiant", "bmps__etablissement__uai", "bmps__etablissement__nom"]
    list_select_related = ["campagne", "discipline", "rattachement"]
    readonly_extra = ["avertissement"]
    inlines = [JumelageBMPInline, EvenementJumelageInline]
    actions = ["valider"]
    change_form_template = "admin/jumelages/jumelage/change_form.html"
    change_list_template = "admin/jumelages/jumelage/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("bmps__etablissement").distinct()

    @admin.display(description="BMP")
    def bmps_du_jumelage(self, obj):
        return format_html_join(", ", "{} ({})", ((b.identifiant, b.etablissement.uai) for b in obj.bmps.all()))

    @admin.display(description="cible (h)")
    def cible_heures(self, obj):
        return obj.cible_heures

    @admin.action(description="Valider les jumelages sélectionnés")
    def valider(self, request, queryset):
        _appliquer(self, request, queryset, services.validate_jumelage, "{n} jumelage(s) validé(s).")

    def get_urls(self):
        vue = self.admin_site.admin_view
        return [
            path("construire/", vue(self.construire), name="jumelages_jumelage_construire"),
            path("<int:pk>/supprimer/", vue(self.supprimer), name="jumelages_jumelage_supprimer"),
            path("<int:pk>/rattachement/", vue(self.rattachement_view), name="jumelages_jumelage_rattachement"),
            *super().get_urls(),
        ]

    def construire(self, request):
        form = ConstructionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                jumelage = services.build_jumelage(
                    request.user, form.cleaned_data["bmps"], rattachement=form.cleaned_data["etablissement"]
                )
            except services.WorkflowError as error:
                form.add_error(None, str(error))
            else:
                if jumelage.avertissement:
                    self.message_user(request, jumelage.avertissement, messages.WARNING)
                self.message_user(request, f"Le {jumelage} a été construit.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:jumelages_jumelage_change", args=[jumelage.pk]))
        return _formulaire(self, request, form, "Construire un jumelage")

    def supprimer(self, request, pk):
        jumelage = get_object_or_404(Jumelage, pk=pk)
        form = MotifForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.delete_jumelage(
                    request.user, jumelage, form.cleaned_data["motif"], form.cleaned_data["commentaire"]
                )
            except services.WorkflowError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, "Le jumelage a été supprimé.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:jumelages_jumelage_change", args=[pk]))
        return _formulaire(self, request, form, f"Supprimer le {jumelage}", jumelage)

    def rattachement_view(self, request, pk):
        jumelage = get_object_or_404(Jumelage, pk=pk)
        form = RattachementForm(request.POST or None, jumelage=jumelage)
        if request.method == "POST" and form.is_valid():
            try:
                services.set_rattachement(request.user, jumelage, form.cleaned_data["etablissement"])
            except services.WorkflowError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, "L'établissement de rattachement a été modifié.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:jumelages_jumelage_change", args=[pk]))
        return _formulaire(self, request, form, f"Changer le rattachement du {jumelage}", jumelage)


def _formulaire(modeladmin, request, form, titre, obj=None):
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": titre,
        "form": form,
        "object": obj,
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/jumelages/formulaire.html", context)


@admin.register(Evenement)
class EvenementAdmin(LectureSeuleMixin, admin.ModelAdmin):
    list_display = ["date", "type", "auteur", "pour_etablissement", "pour_service", "demande", "jumelage", "motif"]
    list_filter = ["type", "campagne", "motif", "pour_service"]
    search_fields = [
        "bmps__identifiant",
        "etablissements_concernes__uai",
        "etablissements_concernes__nom",
        "=demande__pk",
        "=jumelage__pk",
    ]
    list_select_related = ["auteur", "pour_etablissement", "pour_service", "demande", "jumelage__discipline"]
    date_hierarchy = "date"
    readonly_extra = ["bmps", "etablissements_concernes", "services_concernes"]
