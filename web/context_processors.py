"""What every page shows: the campaign banner, the school acted for, the unread notifications.

Each value is read once per request and only if the page shows it.
"""

from functools import cached_property

from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language
from dsfr.models import DsfrConfig

from notifications import services as notifications

from . import services
from .db import Colonnes, lire
from .forms import ChoixEtablissementForm

SKIPLINKS = [
    {"link": "#content", "label": "Contenu"},
    {"link": "#navigation-principale", "label": "Menu"},
    {"link": "#footer", "label": "Pied de page"},
]


class ContexteJumo:
    def __init__(self, request, **lus):
        """`lus`: values already read (the campaign, read with the user's schools)."""
        self.request = request
        self.__dict__.update(lus)  # the cached properties below

    @property
    def etablissement(self):
        return getattr(self.request, "etablissement", None)

    @property
    def etablissements(self):
        return getattr(self.request, "etablissements", [])

    @cached_property
    def campagne(self):
        return services.campagne_courante()

    @cached_property
    def bandeau(self):
        return services.bandeau(self.campagne)

    @cached_property
    def non_lues(self) -> int:
        return notifications.unread_count(self.etablissement) if self.etablissement else 0

    @cached_property
    def choix_form(self):
        if len(self.etablissements) < 2:
            return None
        return ChoixEtablissementForm(
            etablissements=self.etablissements, initial={"etablissement": str(self.etablissement.pk)}
        )


def jumo(request):
    if not hasattr(request, "jumo"):
        request.jumo = ContexteJumo(request)
    return {"jumo": request.jumo, "skiplinks": SKIPLINKS}


_CONFIG = Colonnes(DsfrConfig, "s")


def _site_config():
    """django-dsfr's site configuration, as dsfr.context_processors.site_config chooses it (the one of
    the current language, else the first one), in one query instead of two."""
    sql = (
        f"SELECT {_CONFIG} FROM {DsfrConfig._meta.db_table} s "
        "ORDER BY CASE WHEN s.language = %s THEN 0 ELSE 1 END, s.id LIMIT 1"
    )
    for row in lire(sql, [get_language()]):
        return _CONFIG.instance(row)
    return None


def site_config(request):
    """Replaces dsfr.context_processors.site_config: read lazily, once, only if the page uses it."""
    return {"SITE_CONFIG": SimpleLazyObject(_site_config)}
