"""The admin's refresh upload (issue 7): the file and its options, then the confirmation of its dry run."""

from django import forms
from django.conf import settings
from django.core import signing

from common.uploads import UploadValidator

from .models import Campagne

# The dry run's confirmation is valid this long; then the file must be uploaded again.
CONFIRMATION_MAX_AGE_SECONDS = 30 * 60
CONFIRMATION_SALT = "bmp.actualisation.confirmation"


def _seuil() -> str:
    return f"{settings.JUMO_REFRESH_MAX_WITHDRAWAL_RATIO * 100:g} %"


class ActualisationForm(forms.Form):
    campagne = forms.ModelChoiceField(
        Campagne.objects.order_by("-annee"),
        label="Campagne",
        empty_label=None,
        help_text="Par défaut, la campagne la plus récente.",
    )
    fichier = forms.FileField(
        label="Fichier des BMP (CSV)",
        validators=[UploadValidator()],
        help_text=(
            "Instantané complet des BMP de la campagne : colonnes identifiant, uai, discipline, heures "
            "(libelle_discipline facultative). Un essai à blanc montre d'abord ce qui changerait."
        ),
    )
    forcer = forms.BooleanField(label="Forcer", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and "campagne" not in self.initial:
            self.initial["campagne"] = Campagne.objects.order_by("-annee").first()
        self.fields["forcer"].label = f"Forcer (plus de {_seuil()} de retraits)"
        self.fields["forcer"].help_text = (
            f"Un fichier qui retirerait plus de {_seuil()} des BMP actifs est refusé, sauf si vous cochez "
            "cette case : vérifiez d'abord que l'export est complet."
        )


class ConfirmationForm(forms.Form):
    """The dry run's signed ticket: which file (its SHA-256), which campaign, forced or not, for whom."""

    jeton = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    @staticmethod
    def jeton_pour(*, user, sha256: str, fichier: str, campagne: Campagne, forcer: bool) -> str:
        ticket = {"u": user.pk, "sha256": sha256, "fichier": fichier, "campagne": campagne.pk, "forcer": forcer}
        return signing.dumps(ticket, salt=CONFIRMATION_SALT)

    def clean_jeton(self) -> dict:
        try:
            ticket = signing.loads(
                self.cleaned_data["jeton"], salt=CONFIRMATION_SALT, max_age=CONFIRMATION_MAX_AGE_SECONDS
            )
        except signing.SignatureExpired:
            raise forms.ValidationError(
                f"Cette confirmation a expiré (plus de {CONFIRMATION_MAX_AGE_SECONDS // 60} minutes après "
                "l'essai à blanc) : déposez à nouveau le fichier.",
                code="expired",
            ) from None
        except signing.BadSignature:
            raise forms.ValidationError(
                "Cette confirmation n'est pas valide : déposez à nouveau le fichier.", code="invalid"
            ) from None
        if ticket.get("u") != self.user.pk:
            raise forms.ValidationError(
                "Cette confirmation a été préparée pour un autre utilisateur : déposez à nouveau le fichier.",
                code="invalid",
            )
        return ticket
