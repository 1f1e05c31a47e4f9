"""Forms of the heads' pages, in the État design system (DsfrBaseForm): labels, hints and errors tied
to their fields (aria-describedby)."""

from functools import cache

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from dsfr.forms import DsfrBaseForm as _DsfrBaseForm
from dsfr.forms import DsfrDjangoTemplates

from jumelages.enums import Motif
from jumelages.services import WorkflowError, valider_motif


@cache
def _dsfr_renderer() -> DsfrDjangoTemplates:
    return DsfrDjangoTemplates()


class DsfrBaseForm(_DsfrBaseForm):
    """django-dsfr's form, rendered by one renderer for the whole process: its `default_renderer` is
    the renderer's class, so that each form made its own template engine and parsed every field's
    template again (a quarter of the partner search's time)."""

    @property
    def default_renderer(self):
        renderer = super().default_renderer
        return _dsfr_renderer() if renderer is DsfrDjangoTemplates else renderer


class DsfrFilterForm(DsfrBaseForm):
    """The form of a django-filter FilterSet, in DSFR."""


class ConnexionForm(DsfrBaseForm, AuthenticationForm):
    error_messages = {
        "invalid_login": "Identifiant ou mot de passe incorrect. Vérifiez-les et réessayez.",
        "inactive": "Ce compte est désactivé.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Identifiant (adresse électronique)"
        self.fields["password"].label = "Mot de passe"


class ChoixEtablissementForm(DsfrBaseForm):
    """A head of a cité scolaire chooses the school he acts for."""

    etablissement = forms.ChoiceField(label="Établissement pour lequel vous agissez")

    def __init__(self, *args, etablissements, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["etablissement"].choices = [(str(e.pk), f"{e.nom} ({e.uai})") for e in etablissements]


class DemandeForm(DsfrBaseForm):
    trois = forms.BooleanField(
        label="Jumelage à trois BMP",
        required=False,
        help_text="Cochez si le jumelage doit réunir trois BMP pour approcher le temps plein : "
        "une deuxième demande en attente est alors permise pour ce BMP.",
    )


class MotifForm(DsfrBaseForm):
    """Refusing a request or deleting a jumelage: a motive from the list; with « Autre », a comment."""

    motif = forms.ChoiceField(label="Motif", choices=[("", "Choisissez un motif"), *Motif.choices])
    commentaire = forms.CharField(
        label="Commentaire",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Obligatoire avec le motif « Autre ».",
    )

    def clean(self):
        data = super().clean()
        motif = data.get("motif")
        if motif:
            try:
                data["motif"], data["commentaire"] = valider_motif(motif, data.get("commentaire", ""))
            except WorkflowError as error:
                self.add_error("commentaire" if motif == Motif.AUTRE else "motif", str(error))
        return data
