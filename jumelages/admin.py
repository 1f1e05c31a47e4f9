"""Admin of requests, jumelages and their history (issue 7); every change goes through
jumelages.services, and an agent sees and acts within his service's perimeter only."""

import datetime
from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, Prefetch
from django.db.models.functions import Abs
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from common.admin import PerimeterAdmin, ReadOnlyAdminMixin
from common.formats import format_km

from . import perimetres, services
from .enums import EtatDemande, EtatJumelage, OrigineJumelage
from .forms import ConstructionForm, MotifForm, RattachementForm
from .geographie import geographie
from .models import Demande, Evenement, Jumelage, JumelageBMP, ecart_cible_alerte, format_heures


class LectureSeuleMixin(ReadOnlyAdminMixin):
    """History and state are written by the services only."""

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


class EcheanceFilter(admin.SimpleListFilter):
    """Pending requests by deadline: the ones to chase today, the ones past due."""

    title = "échéance"
    parameter_name = "echeance"

    def lookups(self, request, model_admin):
        return [
            ("24h", "En attente, échéance dans les 24 heures"),
            ("72h", "En attente, échéance dans les 72 heures"),
            ("depassee", "En attente, échéance dépassée"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        en_attente = queryset.filter(etat=EtatDemande.EN_ATTENTE)
        if self.value() == "24h":
            return en_attente.filter(echeance__gt=now, echeance__lte=now + datetime.timedelta(hours=24))
        if self.value() == "72h":
            return en_attente.filter(echeance__gt=now, echeance__lte=now + datetime.timedelta(hours=72))
        if self.value() == "depassee":
            return en_attente.filter(echeance__lte=now)
        return queryset


@admin.register(Demande)
class DemandeAdmin(LectureSeuleMixin, PerimeterAdmin):
    perimeter_filter = staticmethod(perimetres.demandes)
    list_display = ["pk", "bmp", "destinataire", "etat", "trois", "envoyee_le", "echeance", "terminee_le"]
    list_filter = [
        "etat",
        EcheanceFilter,
        "campagne",
        "trois",
        "bmp__discipline",
        "bmp__etablissement__departement",
    ]
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
        demande = self.object_or_404(request, pk)
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


class EtatJumelageFilter(admin.SimpleListFilter):
    title = "état"
    parameter_name = "etat"

    def lookups(self, request, model_admin):
        return EtatJumelage.choices

    def queryset(self, request, queryset):
        if self.value() in EtatJumelage.values:
            return queryset.filter(etat=self.value())
        return queryset


class EcartFilter(admin.SimpleListFilter):
    title = "écart à la cible"
    parameter_name = "ecart"

    def lookups(self, request, model_admin):
        seuil = format_heures(ecart_cible_alerte())
        return [
            ("atteinte", "Cible atteinte"),
            ("dessous", "En dessous de la cible"),
            ("dessus", "Au-dessus de la cible"),
            ("loin", f"Loin de la cible (plus de {seuil})"),
        ]

    def queryset(self, request, queryset):
        queryset = queryset.annotate(_ecart=F("total_heures") - F("discipline__heures_temps_plein"))
        if self.value() == "atteinte":
            return queryset.filter(_ecart=0)
        if self.value() == "dessous":
            return queryset.filter(_ecart__lt=0)
        if self.value() == "dessus":
            return queryset.filter(_ecart__gt=0)
        if self.value() == "loin":
            return queryset.alias(_distance=Abs("_ecart")).filter(_distance__gt=ecart_cible_alerte())
        return queryset


class DepartementJumelageFilter(admin.SimpleListFilter):
    title = "département d'un établissement"
    parameter_name = "departement"

    def lookups(self, request, model_admin):
        from establishments.models import Departement

        return [(d.code, str(d)) for d in Departement.objects.order_by("code")]

    def queryset(self, request, queryset):
        if self.value():
            ids = JumelageBMP.objects.filter(etablissement__departement__code=self.value()).values("jumelage_id")
            return queryset.filter(pk__in=ids)
        return queryset


def _ecart_texte(ecart: Decimal) -> str:
    return ("+" if ecart > 0 else "") + format_heures(ecart)


def membres_actifs():
    """The active members of each jumelage with their BMP, school, commune and zones: four queries for
    a whole page, whatever its size."""
    return Prefetch(
        "appartenances",
        queryset=JumelageBMP.objects.filter(actif=True)
        .select_related("bmp", "etablissement__commune")
        .prefetch_related("etablissement__commune__zones")
        .order_by("position"),
        to_attr="membres_actifs",
    )


def _geographie(jumelage):
    if not hasattr(jumelage, "_geo"):
        ecoles = [m.etablissement for m in jumelage.membres_actifs]
        zones = {e.commune_id: frozenset(z.pk for z in e.commune.zones.all()) for e in ecoles}
        jumelage._geo = geographie(ecoles, {k: v for k, v in zones.items() if v})
    return jumelage._geo


@admin.register(Jumelage)
class JumelageAdmin(LectureSeuleMixin, PerimeterAdmin):
    perimeter_filter = staticmethod(perimetres.jumelages)
    list_display = [
        "numero",
        "code_discipline",
        "bmps_du_jumelage",
        "total",
        "zones",
        "distance",
        "uai_rattachement",
        "origine_courte",
        "etat",
    ]
    list_filter = [
        EtatJumelageFilter,
        EcartFilter,
        "campagne",
        "origine",
        "discipline",
        DepartementJumelageFilter,
    ]
    search_fields = ["=pk", "bmps__identifiant", "bmps__etablissement__uai", "bmps__etablissement__nom"]
    list_select_related = ["campagne", "discipline", "rattachement"]
    readonly_extra = ["avertissement", "geographie_du_jumelage"]
    inlines = [JumelageBMPInline, EvenementJumelageInline]
    actions = ["valider"]
    change_form_template = "admin/jumelages/jumelage/change_form.html"
    change_list_template = "admin/jumelages/jumelage/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).avec_etat().prefetch_related(membres_actifs()).distinct()

    @admin.display(description="n°", ordering="pk")
    def numero(self, obj):
        return obj.pk

    @admin.display(description="discipline", ordering="discipline__code")
    def code_discipline(self, obj):
        return format_html('<abbr title="{}">{}</abbr>', obj.discipline.libelle, obj.discipline.code)

    @admin.display(description="établissements")
    def bmps_du_jumelage(self, obj):
        return format_html_join(
            mark_safe("<br>"),
            '<abbr title="{} – BMP {}">{}</abbr> : {}',
            (
                (m.etablissement.nom, m.bmp.identifiant, m.etablissement.uai, format_heures(m.bmp.heures))
                for m in obj.membres_actifs
            ),
        )

    @admin.display(description="total / cible (écart)", ordering="total_heures")
    def total(self, obj):
        return format_html("{} / {} h ({})", format_heures(obj.total_heures), obj.cible_heures, self.ecart(obj))

    @admin.display(description="rattachement", ordering="rattachement__uai")
    def uai_rattachement(self, obj):
        return format_html('<abbr title="{}">{}</abbr>', obj.rattachement.nom, obj.rattachement.uai)

    @admin.display(description="origine", ordering="origine")
    def origine_courte(self, obj):
        return "service" if obj.origine == OrigineJumelage.SERVICE else "demande"

    def ecart(self, obj):
        ecart = obj.total_heures - obj.cible_heures
        texte = _ecart_texte(ecart)
        if abs(ecart) > ecart_cible_alerte():
            return format_html("<strong>{}</strong>", texte)
        return texte

    @admin.display(description="zones")
    def zones(self, obj):
        return {True: "même zone", False: "différentes", None: "non renseignée"}[_geographie(obj).zone_commune]

    @admin.display(description="distance max.")
    def distance(self, obj):
        return format_km(_geographie(obj).distance_max) if obj.membres_actifs else "–"

    @admin.display(description="état", ordering="etat")
    def etat(self, obj):
        return EtatJumelage(obj.etat).label.lower()

    @admin.display(description="distances et zones")
    def geographie_du_jumelage(self, obj):
        geo = _geographie(obj)
        lignes = [(f"{a.nom} ({a.uai}) – {b.nom} ({b.uai})", format_km(d)) for a, b, d in geo.distances]
        return format_html(
            "{}<br>{}",
            format_html_join("", "{} : {}<br>", lignes),
            "Zone de remplacement : " + geo.zone_texte,
        )

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
        """Build a jumelage in two steps: « Vérifier » shows the BMPs, the total against the target, the
        distances, the zones, the school of attachment and every problem; « Construire » calls the service."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ConstructionForm(request.POST or None, initial=self._bmps_choisis(request))
        examen = geo = None
        if request.method == "POST" and form.is_valid():
            examen = services.examine_jumelage(
                request.user, form.cleaned_data["bmps"], rattachement=form.cleaned_data["etablissement"]
            )
            if examen.membres:
                geo = geographie(m.etablissement for m in examen.membres)
            if "construire" in request.POST and not examen.problemes:
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
        context = {
            **self.admin_site.each_context(request),
            "title": "Construire un jumelage",
            "form": form,
            "examen": examen,
            "geo": geo,
            "distances": [(a, b, format_km(km)) for a, b, km in geo.distances] if geo else [],
            "ecart": _ecart_texte(examen.total - examen.cible) if examen and examen.cible else "",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/jumelages/jumelage/construire.html", context)

    def _bmps_choisis(self, request) -> dict:
        """The BMPs selected in the BMP list (?bmps=1,2,3), within the perimeter."""
        from bmp.models import BMP

        ids = [int(x) for x in request.GET.get("bmps", "").split(",") if x.strip().isdigit()][:3]
        if not ids:
            return {}
        bmps = list(perimetres.bmps(request.user, BMP.objects.filter(pk__in=ids)).select_related("campagne"))
        if not bmps:
            return {}
        return {"campagne": bmps[0].campagne_id, "identifiants": " ".join(b.identifiant for b in bmps)}

    def supprimer(self, request, pk):
        jumelage = self.object_or_404(request, pk)
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
        jumelage = self.object_or_404(request, pk)
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
class EvenementAdmin(LectureSeuleMixin, PerimeterAdmin):
    perimeter_filter = staticmethod(perimetres.evenements)
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
