"""Forms of the admin pages that call the workflow's services."""

import re

from django import forms

from bmp.models import BMP, Campagne
from establishments.models import Etablissement

from .enums import Motif


class MotifForm(forms.Form):
    """Refusing a request or deleting a jumelage: a motive from the list, a comment for « Autre »."""

    motif = forms.ChoiceField(label="Motif", choices=Motif.choices)
    commentaire = forms.CharField(
        label="Commentaire",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Obligatoire avec « Autre ».",
    )


class ConstructionForm(forms.Form):
    campagne = forms.ModelChoiceField(label="Campagne", queryset=Campagne.objects.all())
    identifiants = forms.CharField(
        label="Identifiants des BMP",
        help_text="Deux ou trois identifiants, séparés par des espaces, des virgules ou des retours à la ligne.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    rattachement = forms.CharField(
        label="UAI de l'établissement de rattachement",
        required=False,
        help_text="Vide : l'établissement qui porte le plus d'heures.",
    )

    def clean(self):
        data = super().clean()
        campagne = data.get("campagne")
        identifiants = [i for i in re.split(r"[\s,;]+", data.get("identifiants", "")) if i]
        if campagne and identifiants:
            trouves = {
                b.identifiant: b for b in BMP.objects.courants().filter(campagne=campagne, identifiant__in=identifiants)
            }
            inconnus = [i for i in identifiants if i not in trouves]
            if inconnus:
                self.add_error("identifiants", f"BMP inconnus dans cette campagne : {', '.join(inconnus)}.")
            data["bmps"] = [trouves[i] for i in identifiants if i in trouves]
        uai = (data.get("rattachement") or "").strip().upper()
        data["etablissement"] = None
        if uai:
            data["etablissement"] = Etablissement.objects.filter(uai=uai).first()
            if data["etablissement"] is None:
                self.add_error("rattachement", f"Aucun établissement ne porte l'UAI {uai}.")
        return data


class RattachementForm(forms.Form):
    etablissement = forms.ModelChoiceField(label="Établissement de rattachement", queryset=Etablissement.objects.none())

    def __init__(self, *args, jumelage, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["etablissement"].queryset = Etablissement.objects.filter(
            pk__in=jumelage.appartenances.values("etablissement_id")
        )
        self.fields["etablissement"].initial = jumelage.rattachement_id
