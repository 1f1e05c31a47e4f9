"""Forms of the heads' pages, in the État design system (common.forms.DsfrBaseForm): labels, hints and
errors tied to their fields (aria-describedby). The motive of a refusal or a deletion is the
workflow's own form (jumelages.forms.MotifForm), which the admin shares."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from common.forms import DsfrBaseForm


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
