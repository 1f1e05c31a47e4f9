"""Filters of the partner search (django-filter): the form and its validation.

web.services.rechercher_partenaires applies them all in its own SQL (web.recherche), from the
form's cleaned data (`valeurs`); the filters' queryset is never read.
"""

from functools import cached_property, lru_cache

import django_filters
from django import forms
from django.db.models import Q
from django.http import QueryDict
from django.utils.safestring import mark_safe

from bmp.models import BMP
from establishments.models import Departement

from .forms import DsfrFilterForm
from .services import PAR_CIBLE, PAR_DISTANCE


def _inchange(queryset, _name, _value):
    return queryset


class _ChoixLus(django_filters.fields.ModelChoiceIterator):
    """The options of a short list read by one plain query: Django's iterator() opens a server-side
    cursor (DECLARE, FETCH, CLOSE: three round trips)."""

    def __iter__(self):
        if self.field.null_label is not None:
            yield (self.field.null_value, self.field.null_label)
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():
            yield self.choice(obj)


class _ChoixLusField(django_filters.fields.ModelChoiceField):
    iterator = _ChoixLus


class _ChoixLusFilter(django_filters.ModelChoiceFilter):
    field_class = _ChoixLusField


class PartenaireFilter(django_filters.FilterSet):
    departement = _ChoixLusFilter(
        label="Département",
        field_name="etablissement__departement",
        queryset=Departement.objects.order_by("code"),
        empty_label="Tous les départements",
    )
    commune = django_filters.CharFilter(
        label="Commune",
        method="filtrer_commune",
        help_text="Nom ou code INSEE, ex. Créteil ou 94028.",
    )
    meme_zone = django_filters.BooleanFilter(
        label="Même zone de remplacement que mon établissement",
        method=_inchange,
        widget=forms.CheckboxInput,
    )
    distance_max = django_filters.NumberFilter(
        label="Distance maximale (km)",
        method=_inchange,
        min_value=1,
        max_value=1000,
    )
    ecart_max = django_filters.NumberFilter(
        label="Écart maximal du total au temps plein (heures)",
        method=_inchange,
        min_value=0,
        max_value=36,
        help_text="0 : seulement les BMP qui complètent exactement le temps plein.",
    )
    sans_depasser = django_filters.BooleanFilter(
        label="Sans dépasser le temps plein",
        method=_inchange,
        widget=forms.CheckboxInput,
    )
    tri = django_filters.ChoiceFilter(
        label="Trier par",
        method=_inchange,
        choices=[
            (PAR_DISTANCE, "distance (la plus proche d'abord)"),
            (PAR_CIBLE, "total le plus proche du temps plein"),
        ],
        empty_label=None,
    )

    class Meta:
        form = DsfrFilterForm
        fields = []

    def filtrer_commune(self, queryset, _name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(etablissement__commune__code_insee=value) | Q(etablissement__commune__nom__icontains=value)
        )

    def valeurs(self) -> dict:
        """The form's values for web.services.rechercher_partenaires, which filters in SQL itself.

        As django-filter's own `qs` would, the département and the commune apply when they are
        valid, even if another field is not; the others only when the whole form is valid."""
        valide = self.form.is_valid()
        data = self.form.cleaned_data
        valeurs = {key: data.get(key) for key in ("departement", "commune")}
        for key in ("meme_zone", "distance_max", "ecart_max", "sans_depasser", "tri"):
            valeurs[key] = data.get(key) if valide else None
        return valeurs

    @cached_property
    def champs(self) -> dict:
        """Each field of the form rendered (DSFR field group), by name. Rendering the seven fields
        through django-dsfr's templates cost more than the whole search: the HTML is kept for each
        set of values submitted and list of départements (one query), which make all of it."""
        donnees = None
        if self.is_bound:
            donnees = tuple((nom, tuple(self.data.getlist(nom))) for nom in CHAMPS)
        departements = tuple(Departement.objects.order_by("code").values_list("pk", "code", "nom"))
        return dict(zip(CHAMPS, _champs_rendus(donnees, departements), strict=True))


CHAMPS = ("departement", "commune", "distance_max", "ecart_max", "tri", "sans_depasser", "meme_zone")


@lru_cache(maxsize=512)
def _champs_rendus(donnees, departements) -> tuple:
    data = None
    if donnees is not None:
        data = QueryDict(mutable=True)
        for nom, valeurs in donnees:
            data.setlist(nom, list(valeurs))
    filtre = PartenaireFilter(data, queryset=BMP.objects.none())
    champ = filtre.form.fields["departement"]  # its options from the key, not read again
    options = (Departement(pk=pk, code=code, nom=nom) for pk, code, nom in departements)
    champ.widget.choices = [("", champ.empty_label), *((d.pk, champ.label_from_instance(d)) for d in options)]
    return tuple(mark_safe(str(filtre.form[nom].as_field_group())) for nom in CHAMPS)
