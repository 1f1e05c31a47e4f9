"""The admin registrations of the DOS workspace that show the workflow's data beside the BMPs: the
BMPs' list with their state in the campaign (libre, demande en cours, jumelé, retiré) and each
BMP's history. The campaigns and import runs stay in bmp's admin."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from bmp.models import BMP
from common.admin import PerimeterAdmin, ReadOnlyAdminMixin
from jumelages import perimetres
from jumelages.enums import EtatBMP
from jumelages.models import EvenementBMP, bmps_avec_etat


class EtatFilter(admin.SimpleListFilter):
    title = "état"
    parameter_name = "etat"

    def lookups(self, request, model_admin):
        return EtatBMP.choices

    def queryset(self, request, queryset):
        if self.value() in EtatBMP.values:
            return queryset.filter(etat=self.value())
        return queryset


class HeuresFilter(admin.SimpleListFilter):
    title = "heures"
    parameter_name = "heures"
    TRANCHES = {
        "0-6": ("moins de 6 h", {"heures__lt": 6}),
        "6-12": ("de 6 h à moins de 12 h", {"heures__gte": 6, "heures__lt": 12}),
        "12-": ("12 h ou plus", {"heures__gte": 12}),
    }

    def lookups(self, request, model_admin):
        return [(code, libelle) for code, (libelle, _filtre) in self.TRANCHES.items()]

    def queryset(self, request, queryset):
        if self.value() in self.TRANCHES:
            return queryset.filter(**self.TRANCHES[self.value()][1])
        return queryset


class HistoriqueBMPInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The events concerning the BMP (requests, jumelages, refresh), oldest first."""

    model = EvenementBMP
    fk_name = "bmp"
    fields = ["date", "type", "auteur", "motif", "lien"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "événement"
    verbose_name_plural = "historique"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("evenement__auteur", "evenement__pour_etablissement", "evenement__pour_service")
            .order_by("evenement__date", "evenement__pk")
        )

    @admin.display(description="date")
    def date(self, obj):
        return obj.evenement.date

    @admin.display(description="événement")
    def type(self, obj):
        return obj.evenement.get_type_display()

    @admin.display(description="auteur")
    def auteur(self, obj):
        return obj.evenement.auteur_libelle(pour=True)

    @admin.display(description="motif")
    def motif(self, obj):
        return obj.evenement.get_motif_display()

    @admin.display(description="détail")
    def lien(self, obj):
        url = reverse("admin:jumelages_evenement_change", args=[obj.evenement_id])
        return format_html('<a href="{}">voir l\'événement</a>', url)


@admin.register(BMP)
class BMPAdmin(ReadOnlyAdminMixin, PerimeterAdmin):
    perimeter_filter = staticmethod(perimetres.bmps)
    list_display = ["identifiant", "etablissement", "discipline", "heures", "etat_du_bmp", "campagne", "modifie_le"]
    list_filter = [
        EtatFilter,
        HeuresFilter,
        "campagne",
        "discipline",
        "etablissement__departement",
        "etablissement__type",
    ]
    search_fields = ["identifiant", "etablissement__uai", "etablissement__nom", "etablissement__commune__nom"]
    list_select_related = ["etablissement", "discipline", "campagne"]
    inlines = [HistoriqueBMPInline]
    actions = ["construire_un_jumelage"]

    def get_queryset(self, request):
        return bmps_avec_etat(super().get_queryset(request))

    @admin.display(description="état", ordering="etat")
    def etat_du_bmp(self, obj):
        return EtatBMP(obj.etat).label

    @admin.action(description="Construire un jumelage avec les BMP sélectionnés", permissions=["view"])
    def construire_un_jumelage(self, request, queryset):
        ids = list(queryset.order_by("etablissement__uai").values_list("pk", flat=True)[:4])
        url = reverse("admin:jumelages_jumelage_construire")
        return HttpResponseRedirect(f"{url}?{urlencode({'bmps': ','.join(map(str, ids))})}")
