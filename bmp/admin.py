"""Campaigns and BMPs in the admin (issue 7). BMPs are written by the nightly refresh only: read only
here, within the agent's perimeter, with their state and their history."""

from django.contrib import admin, messages
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

from jumelages import perimetres
from jumelages.admin_perimetre import PerimetreAdmin, perimetre_de
from jumelages.enums import EtatDemande
from jumelages.models import Demande, EvenementBMP, dans_un_jumelage_actif
from jumo.admin_base import SansEcritureMixin

from .campagnes import CampagneError, create_campaign
from .models import BMP, Campagne


@admin.register(Campagne)
class CampagneAdmin(admin.ModelAdmin):
    list_display = [
        "annee",
        "phase_actuelle",
        "date_ouverture",
        "date_cloture",
        "date_fin_validation",
        "date_debut_consultation",
        "date_fin_consultation",
    ]
    actions = ["preparer_campagne_suivante"]

    @admin.display(description="phase actuelle")
    def phase_actuelle(self, obj):
        return obj.phase.label

    def get_changeform_initial_data(self, request):
        """A new campaign: the year after the latest one, with the default calendar of that year."""
        derniere = Campagne.objects.order_by("-annee").values_list("annee", flat=True).first()
        annee = (derniere + 1) if derniere else None
        if annee is None:
            return super().get_changeform_initial_data(request)
        return {"annee": annee, **Campagne.default_calendar(annee), **super().get_changeform_initial_data(request)}

    @admin.action(description="Préparer la campagne de l'année suivante", permissions=["add"])
    def preparer_campagne_suivante(self, request, queryset):
        for campagne in queryset:
            try:
                suivante, creee = create_campaign(campagne.annee + 1)
            except CampagneError as error:
                self.message_user(request, str(error), messages.ERROR)
                continue
            if creee:
                self.message_user(
                    request,
                    f"La {suivante} est créée avec le calendrier habituel (ouverture le "
                    f"{suivante.date_ouverture:%d/%m/%Y}) : vérifiez ses dates.",
                    messages.SUCCESS,
                )
            else:
                self.message_user(request, f"La {suivante} existe déjà : rien n'a été modifié.", messages.WARNING)


class EtatBMP:
    RETIRE, JUMELE, DEMANDE, LIBRE = "retire", "jumele", "demande", "libre"
    CHOIX = [(LIBRE, "libre"), (DEMANDE, "demande en cours"), (JUMELE, "jumelé"), (RETIRE, "retiré")]
    LIBELLES = dict(CHOIX)


def avec_etat(queryset):
    """Each BMP's state, computed by the database: retiré, jumelé (in an active jumelage), demande
    (a pending request from or to it), else libre."""
    en_jumelage = dans_un_jumelage_actif()
    en_demande = Exists(
        Demande.objects.filter(Q(bmp=OuterRef("pk")) | Q(cible=OuterRef("pk")), etat=EtatDemande.EN_ATTENTE)
    )
    return queryset.annotate(
        etat=Case(
            When(actif=False, then=Value(EtatBMP.RETIRE)),
            When(en_jumelage, then=Value(EtatBMP.JUMELE)),
            When(en_demande, then=Value(EtatBMP.DEMANDE)),
            default=Value(EtatBMP.LIBRE),
        )
    )


class EtatFilter(admin.SimpleListFilter):
    title = "état"
    parameter_name = "etat"

    def lookups(self, request, model_admin):
        return EtatBMP.CHOIX

    def queryset(self, request, queryset):
        if self.value() in EtatBMP.LIBELLES:
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


class HistoriqueBMPInline(SansEcritureMixin, admin.TabularInline):
    """The events concerning the BMP (requests, jumelages, refresh), oldest first."""

    model = EvenementBMP
    fk_name = "bmp"
    fields = ["date", "type", "auteur", "pour", "motif", "lien"]
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
        auteur = obj.evenement.auteur
        return auteur.get_full_name() or auteur.get_username() if auteur else "traitement automatique"

    @admin.display(description="pour")
    def pour(self, obj):
        return obj.evenement.pour_etablissement or obj.evenement.pour_service or ""

    @admin.display(description="motif")
    def motif(self, obj):
        return obj.evenement.get_motif_display()

    @admin.display(description="détail")
    def lien(self, obj):
        from django.utils.html import format_html

        url = reverse("admin:jumelages_evenement_change", args=[obj.evenement_id])
        return format_html('<a href="{}">voir l\'événement</a>', url)


@admin.register(BMP)
class BMPAdmin(SansEcritureMixin, PerimetreAdmin):
    filtre_perimetre = perimetre_de(perimetres.bmps)
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
        return avec_etat(super().get_queryset(request))

    @admin.display(description="état", ordering="etat")
    def etat_du_bmp(self, obj):
        return EtatBMP.LIBELLES[obj.etat]

    @admin.action(description="Construire un jumelage avec les BMP sélectionnés", permissions=["view"])
    def construire_un_jumelage(self, request, queryset):
        ids = list(queryset.order_by("etablissement__uai").values_list("pk", flat=True)[:4])
        url = reverse("admin:jumelages_jumelage_construire")
        return HttpResponseRedirect(f"{url}?{urlencode({'bmps': ','.join(map(str, ids))})}")


# The import runs and the refresh upload (issue 7) live in their own module.
from .admin_imports import ImportRunAdmin  # noqa: E402, F401
