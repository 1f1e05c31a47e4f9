"""Campaigns, BMPs and the record of each nightly refresh."""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from common.formats import PARIS  # noqa: F401 (bmp.models.PARIS is read by other modules)
from establishments.models import Discipline, Etablissement

from .enums import Phase, StatutImport


def paris_midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=PARIS)


class CampagneQuerySet(models.QuerySet):
    def courante(self):
        """The campaign of the latest rentrée (None before the first one)."""
        return self.order_by("-annee").first()


class Campagne(models.Model):
    """One campaign per rentrée; its phase is derived from these dates at Paris midnight (phase_at)."""

    annee = models.PositiveSmallIntegerField("année de rentrée", unique=True)
    date_ouverture = models.DateField("ouverture aux établissements", help_text="Premier jour de la phase ouverte.")
    date_cloture = models.DateField("clôture", help_text="Dernier jour où les établissements peuvent agir.")
    date_fin_validation = models.DateField(
        "fin de la validation",
        help_text="Date annoncée ; la validation se poursuit jusqu'au début de la consultation.",
    )
    date_debut_consultation = models.DateField("début de la consultation")
    date_fin_consultation = models.DateField("fin de la consultation", help_text="Dernier jour de consultation.")

    objects = CampagneQuerySet.as_manager()

    class Meta:
        verbose_name = "campagne"
        verbose_name_plural = "campagnes"
        ordering = ["-annee"]
        constraints = [
            models.CheckConstraint(
                condition=Q(date_cloture__gte=F("date_ouverture"))
                & Q(date_fin_validation__gt=F("date_cloture"))
                & Q(date_debut_consultation__gt=F("date_fin_validation"))
                & Q(date_fin_consultation__gte=F("date_debut_consultation")),
                name="campagne_dates_in_order",
            ),
        ]

    def __str__(self):
        return f"Campagne {self.annee}"

    def clean(self):
        """The calendar's dates in order, each error in French on its field (the admin's form)."""
        ordre = [
            ("date_cloture", "date_ouverture", False, "La clôture ne peut pas précéder l'ouverture."),
            ("date_fin_validation", "date_cloture", True, "La fin de la validation doit suivre la clôture."),
            (
                "date_debut_consultation",
                "date_fin_validation",
                True,
                "La consultation doit commencer après la fin de la validation.",
            ),
            (
                "date_fin_consultation",
                "date_debut_consultation",
                False,
                "La fin de la consultation ne peut pas précéder son début.",
            ),
        ]
        errors = {}
        for champ, precedent, strict, message in ordre:
            valeur, avant = getattr(self, champ), getattr(self, precedent)
            if valeur is None or avant is None:
                continue
            if valeur < avant or (strict and valeur == avant):
                errors[champ] = message
        if errors:
            raise ValidationError(errors)

    @classmethod
    def default_calendar(cls, annee: int) -> dict:
        """The 2024 instruction's calendar moved to `annee`."""
        return {
            "date_ouverture": datetime.date(annee, 6, 17),
            "date_cloture": datetime.date(annee, 6, 26),
            "date_fin_validation": datetime.date(annee, 6, 28),
            "date_debut_consultation": datetime.date(annee, 7, 1),
            "date_fin_consultation": datetime.date(annee, 9, 1),
        }

    def boundaries(self) -> list[tuple[datetime.datetime, Phase]]:
        """Each phase with the instant it starts (Paris midnight)."""
        one_day = datetime.timedelta(days=1)
        return [
            (paris_midnight(self.date_ouverture), Phase.OUVERTE),
            (paris_midnight(self.date_cloture + one_day), Phase.VALIDATION),
            (paris_midnight(self.date_debut_consultation), Phase.CONSULTATION),
            (paris_midnight(self.date_fin_consultation + one_day), Phase.ARCHIVEE),
        ]

    def phase_at(self, instant: datetime.datetime | None = None) -> Phase:
        """The phase at `instant` (now by default); 30 June 2024 stays in validation (our decision)."""
        instant = instant or timezone.now()
        phase = Phase.PREPARATION
        for start, next_phase in self.boundaries():
            if instant >= start:
                phase = next_phase
        return phase

    @property
    def phase(self) -> Phase:
        return self.phase_at()

    def phase_end(self, instant: datetime.datetime | None = None) -> datetime.datetime | None:
        """When the phase current at `instant` ends (None for archivée)."""
        instant = instant or timezone.now()
        for start, _phase in self.boundaries():
            if instant < start:
                return start
        return None


class BMPQuerySet(models.QuerySet):
    def actifs(self):
        return self.filter(actif=True)

    def courants(self):
        """The current record of each identifiant (not superseded by a change of school or discipline)."""
        return self.filter(remplace_par__isnull=True)


class BMP(models.Model):
    """A bloc de moyens provisoire: hours of one discipline in one school, for one campaign."""

    campagne = models.ForeignKey(Campagne, verbose_name="campagne", on_delete=models.PROTECT, related_name="bmps")
    etablissement = models.ForeignKey(
        Etablissement, verbose_name="établissement", on_delete=models.PROTECT, related_name="bmps"
    )
    discipline = models.ForeignKey(Discipline, verbose_name="discipline", on_delete=models.PROTECT, related_name="bmps")
    heures = models.DecimalField("heures", max_digits=4, decimal_places=2)
    identifiant = models.CharField(
        "identifiant", max_length=64, help_text="Identifiant stable dans le système de l'académie."
    )
    actif = models.BooleanField("actif", default=True, help_text="Décoché : retiré par l'actualisation nocturne.")
    remplace_par = models.ForeignKey(
        "self",
        verbose_name="remplacé par",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="remplace",
        help_text="Quand l'actualisation change l'établissement ou la discipline, l'ancien BMP est retiré et remplacé.",
    )
    cree_le = models.DateTimeField("créé le", auto_now_add=True)
    modifie_le = models.DateTimeField("modifié le", auto_now=True)
    retire_le = models.DateTimeField("retiré le", null=True, blank=True)

    objects = BMPQuerySet.as_manager()

    class Meta:
        verbose_name = "BMP"
        verbose_name_plural = "BMP"
        ordering = ["campagne", "etablissement", "discipline", "identifiant"]
        constraints = [
            models.UniqueConstraint(
                fields=["campagne", "identifiant"],
                condition=Q(remplace_par__isnull=True),
                name="bmp_unique_identifiant_per_campagne",
                violation_error_message="Un BMP porte déjà cet identifiant dans cette campagne.",
            ),
            models.CheckConstraint(
                condition=Q(heures__gt=0) & Q(heures__lte=36),
                name="bmp_hours_range",
                violation_error_message="Les heures d'un BMP doivent être comprises entre 0 (exclu) et 36.",
            ),
            models.CheckConstraint(
                condition=Q(remplace_par__isnull=True) | Q(actif=False), name="bmp_superseded_is_inactive"
            ),
        ]
        indexes = [
            models.Index(fields=["campagne", "discipline", "actif"], name="bmp_campagne_disc_actif"),
            # The partner search reads the BMPs of one discipline in the schools near mine (web.recherche).
            models.Index(fields=["etablissement", "campagne", "discipline"], name="bmp_etab_campagne_disc"),
        ]

    def __str__(self):
        return f"{self.identifiant} – {self.discipline.code} {self.heures} h ({self.etablissement.uai})"


class ImportRun(models.Model):
    """One run of the BMP refresh, from the command, the admin or the nightly task."""

    campagne = models.ForeignKey(
        Campagne, verbose_name="campagne", on_delete=models.PROTECT, related_name="imports", null=True, blank=True
    )
    lance_par = models.CharField("lancé par", max_length=150, help_text="Commande, tâche planifiée ou utilisateur.")
    utilisateur = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="utilisateur", on_delete=models.SET_NULL, null=True, blank=True
    )
    fichier = models.CharField("fichier", max_length=500)
    sha256 = models.CharField("empreinte SHA-256", max_length=64, blank=True)
    encodage = models.CharField("encodage détecté", max_length=20, blank=True)
    separateur = models.CharField("séparateur détecté", max_length=5, blank=True)
    dry_run = models.BooleanField("essai à blanc", default=False)
    force = models.BooleanField("forcé", default=False)
    statut = models.CharField("statut", max_length=10, choices=StatutImport.choices)
    lignes = models.PositiveIntegerField("lignes lues", default=0)
    ajoutes = models.PositiveIntegerField("ajoutés", default=0)
    modifies = models.PositiveIntegerField("modifiés", default=0)
    retires = models.PositiveIntegerField("retirés", default=0)
    restaures = models.PositiveIntegerField("restaurés", default=0)
    inchanges = models.PositiveIntegerField("inchangés", default=0)
    disciplines_creees = models.JSONField("disciplines créées", default=list, blank=True)
    erreurs = models.JSONField("erreurs", default=list, blank=True)
    touches = models.JSONField("objets touchés", default=dict, blank=True, help_text="Demandes et jumelages concernés.")
    debut = models.DateTimeField("début", default=timezone.now)
    duree = models.DurationField("durée", null=True, blank=True)

    class Meta:
        verbose_name = "actualisation des BMP"
        verbose_name_plural = "actualisations des BMP"
        ordering = ["-debut"]
        # The refresh file covers the whole académie: superusers grant this to the agents in charge;
        # the « Gestionnaires DOS » group does not get it (establishments.accounts).
        permissions = [("lancer_actualisation", "Peut lancer une actualisation des BMP")]

    def __str__(self):
        return f"{self.fichier} – {self.get_statut_display()} ({timezone.localtime(self.debut):%d/%m/%Y %H:%M})"
