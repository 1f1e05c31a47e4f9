"""The outbox in the admin: every mail, its state, its attempts and last error; « renvoyer »."""

from django.contrib import admin, messages
from django.utils.text import Truncator

from common import perimetre
from common.admin import PerimeterAdmin, ReadOnlyAdminMixin

from . import services
from .enums import StatutEnvoi
from .models import Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, PerimeterAdmin):
    perimeter_filter = staticmethod(perimetre.by_school("etablissement__"))
    list_display = ["cree_le", "type", "etablissement", "adresse", "statut", "tentatives", "envoye_le", "erreur"]
    list_filter = ["statut", "type", "lue", "campagne"]
    search_fields = ["etablissement__uai", "etablissement__nom", "adresse", "message_id", "sujet"]
    list_select_related = ["etablissement"]
    date_hierarchy = "cree_le"
    actions = ["renvoyer"]
    fieldsets = [
        (None, {"fields": ["type", "etablissement", "adresse", "evenement", "demande", "jumelage", "campagne"]}),
        (
            "Envoi",
            {
                "fields": [
                    "statut",
                    "tentatives",
                    "derniere_erreur",
                    "cree_le",
                    "prochain_essai_le",
                    "reclame_le",
                    "envoye_le",
                    "message_id",
                ]
            },
        ),
        ("Message", {"fields": ["sujet", "texte", "html"]}),
        ("Lecture dans JUMO", {"fields": ["lue", "lue_le"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.display(description="dernière erreur")
    def erreur(self, obj):
        return Truncator(obj.derniere_erreur).chars(80)

    @admin.action(description="Renvoyer les mails sélectionnés", permissions=["renvoyer"])
    def renvoyer(self, request, queryset):
        en_cours = queryset.filter(statut=StatutEnvoi.EN_COURS).count()
        n = services.renvoyer(queryset)
        if n:
            self.message_user(request, f"{n} mail(s) remis en file d'envoi (même Message-ID).", messages.SUCCESS)
        if en_cours:
            self.message_user(
                request, f"{en_cours} mail(s) en cours d'envoi laissé(s) tel(s) quel(s).", messages.WARNING
            )
        if not n and not en_cours:
            self.message_user(request, "Aucun mail remis en file : adresse impossible à calculer.", messages.ERROR)

    def has_renvoyer_permission(self, request):
        """Sending a mail again changes no data: whoever may see the outbox may do it."""
        return self.has_view_permission(request)
