"""What every page shows: the campaign banner, the school acted for, the unread notifications.

Each value is read once per request and only if the page shows it.
"""

import time
from functools import cached_property

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language
from dsfr.models import DsfrConfig

from bmp.models import Campagne
from notifications import services as notifications

from . import services
from .db import Columns, fetch_rows
from .forms import ChoixEtablissementForm
from .tables import DSFR_CONFIG_TABLE

_bandeaux: dict[tuple, str] = {}

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
        return Campagne.objects.courante()

    @cached_property
    def bandeau(self):
        return services.bandeau(self.campagne)

    @cached_property
    def bandeau_html(self) -> str:
        """The campaign banner of every page: a function of the campaign's dates and of the phase
        only, rendered once per process for each of them (the dates' French formatting and the
        template cost more than the rest of the page's frame)."""
        campagne = self.campagne
        if campagne is None:
            return ""
        cle = (
            campagne.pk,
            campagne.annee,
            campagne.date_ouverture,
            campagne.date_cloture,
            campagne.date_fin_validation,
            campagne.date_debut_consultation,
            campagne.date_fin_consultation,
            campagne.phase_at(timezone.now()),
        )
        html = _bandeaux.get(cle)
        if html is None:
            if len(_bandeaux) > 64:
                _bandeaux.clear()
            html = _bandeaux[cle] = render_to_string("web/_bandeau.html", {"jumo": self})
        return html

    @cached_property
    def non_lues(self) -> int:
        """Read with the user's schools at the start of the request (web.lectures), else counted."""
        if not self.etablissement:
            return 0
        lu = getattr(self.etablissement, "non_lues", None)
        return notifications.unread_count(self.etablissement) if lu is None else lu

    @cached_property
    def choix_form(self):
        if len(self.etablissements) < 2:
            return None
        return ChoixEtablissementForm(
            etablissements=self.etablissements, initial={"etablissement": str(self.etablissement.pk)}
        )


def jumo(request):
    if not hasattr(request, "jumo"):
        # A page may have read or chosen the campaign already (the DOS dashboard's campaign chooser).
        lus = {"campagne": request.campagne_affichee} if hasattr(request, "campagne_affichee") else {}
        request.jumo = ContexteJumo(request, **lus)
    return {"jumo": request.jumo, "skiplinks": SKIPLINKS}


_CONFIG = Columns(DsfrConfig, "s")


# The DSFR site configuration changes perhaps once a year (a notice banner): each process keeps it
# SITE_CONFIG_SECONDES, and forgets it at once when this process saves it (the admin's).
SITE_CONFIG_SECONDES = 60
_site_configs: dict[str, tuple[float, object]] = {}


@receiver([post_save, post_delete], sender=DsfrConfig)
def _oublier_site_config(**kwargs):
    _site_configs.clear()


def _site_config():
    """django-dsfr's site configuration, as dsfr.context_processors.site_config chooses it (the one of
    the current language, else the first one), in one query instead of two, at most once a minute."""
    langue = get_language()
    maintenant = time.monotonic()
    memo = _site_configs.get(langue)
    if memo is not None and memo[0] > maintenant:
        return memo[1]
    sql = (
        f"SELECT {_CONFIG} FROM {DSFR_CONFIG_TABLE} s "
        "ORDER BY CASE WHEN s.language = %s THEN 0 ELSE 1 END, s.id LIMIT 1"
    )
    config = next((_CONFIG.instance(row) for row in fetch_rows(sql, [langue])), None)
    _site_configs[langue] = (maintenant + SITE_CONFIG_SECONDES, config)
    return config


def site_config(request):
    """Replaces dsfr.context_processors.site_config: read lazily, once, only if the page uses it."""
    return {"SITE_CONFIG": SimpleLazyObject(_site_config)}
