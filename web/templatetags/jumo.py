from functools import lru_cache

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language

from jumelages.models import format_heures
from jumelages.services import format_instant

register = template.Library()

# Integers no page id will reach, reversed in place of the arguments.
_REPERES = (2_147_483_641, 2_147_483_643)


@lru_cache(maxsize=256)
def _gabarit(nom: str, nombre: int, prefixe: str, urlconf) -> str:
    url = reverse(nom, args=_REPERES[:nombre], urlconf=urlconf).replace("{", "{{").replace("}", "}}")
    for position, repere in enumerate(_REPERES[:nombre]):
        url = url.replace(str(repere), f"{{{position}}}")
    return url


@register.simple_tag
def lien(nom, *ids) -> str:
    """{% url nom id… %} for ids (integers): the URL is reversed once per process and name, then
    only filled in (a page of Mes BMP has some thirty links; reverse() was a fifth of its rendering)."""
    return _gabarit(nom, len(ids), get_script_prefix(), get_urlconf()).format(*(int(i) for i in ids))


@register.filter
def instant(value) -> str:
    """« 20 juin 2024 à 14 h 05 » (heure de Paris)."""
    return format_instant(value) if value else ""


@register.filter
def heures(value) -> str:
    """« 9,5 h »."""
    return format_heures(value) if value is not None else ""


@register.filter
def qui(evenement) -> str:
    """Who did it, for which school or service: « Camille MARTIN pour Collège A (0940001A) »."""
    return evenement.auteur_libelle(pour=True)


class FixeNode(template.Node):
    def __init__(self, nodelist):
        self.nodelist = nodelist
        self.rendus = {}

    def render(self, context):
        langue = get_language()
        if langue not in self.rendus:
            self.rendus[langue] = self.nodelist.render(context)
        return self.rendus[langue]


@register.tag
def fixe(parser, token):
    """{% fixe %}…{% endfixe %}: markup that depends on nothing of the request but the language (the
    DSFR's display settings dialog), rendered once per process and language."""
    nodelist = parser.parse(("endfixe",))
    parser.delete_first_token()
    return FixeNode(nodelist)
