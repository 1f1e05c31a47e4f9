"""Forms that call the workflow's services: the motive of a refusal or a deletion (the heads' pages
and the admin), and the admin's building and rattachement forms."""

import re

from django import forms

from bmp.models import BMP, Campagne
from common.forms import DsfrBaseForm
from establishments.models import Etablissement

from .enums import Motif
from .services import WorkflowError, valider_motif

# The longest comment a refusal or a deletion takes: the model's text field has no limit, the
# comment is quoted in the mails and the history.
COMMENTAIRE_MAX = 2000


class MotifForm(DsfrBaseForm):
    """Refusing a request or deleting a jumelage, on the heads' pages and in the admin: a motive from
    the list; with « Autre », a comment (the workflow's own rule, jumelages.services.valider_motif)."""

    motif = forms.ChoiceField(label="Motif", choices=[("", "Choisissez un motif"), *Motif.choices])
    commentaire = forms.CharField(
        label="Commentaire",
        required=False,
        max_length=COMMENTAIRE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Obligatoire avec le motif « Autre ».",
    )

    def clean(self):
        data = super().clean()
        motif = data.get("motif")
        if motif and "commentaire" not in self.errors:  # a comment too long is not a missing one
            try:
                data["motif"], data["commentaire"] = valider_motif(motif, data.get("commentaire", ""))
            except WorkflowError as error:
                self.add_error("commentaire" if motif == Motif.AUTRE else "motif", str(error))
        return data


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
