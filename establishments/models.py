"""The référentiel: départements, communes, zones de remplacement, schools, services, disciplines."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .enums import TYPES_LYCEE, Perimetre, Position, TypeEtablissement
from .uai import validate_uai


class Departement(models.Model):
    code = models.CharField("code", max_length=3, unique=True, help_text="Ex. 77, 93, 94.")
    nom = models.CharField("nom", max_length=100)

    class Meta:
        verbose_name = "département"
        verbose_name_plural = "départements"
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} – {self.nom}"


class Commune(models.Model):
    code_insee = models.CharField("code INSEE", max_length=5, unique=True)
    nom = models.CharField("nom", max_length=150)
    departement = models.ForeignKey(
        Departement, verbose_name="département", on_delete=models.PROTECT, related_name="communes"
    )
    code_postal = models.CharField("code postal", max_length=5, blank=True)
    codes_postaux = models.CharField("codes postaux", max_length=200, blank=True, help_text="Séparés par « | ».")
    latitude = models.FloatField("latitude du centre", null=True, blank=True)
    longitude = models.FloatField("longitude du centre", null=True, blank=True)

    class Meta:
        verbose_name = "commune"
        verbose_name_plural = "communes"
        ordering = ["nom"]

    def __str__(self):
        return f"{self.nom} ({self.code_insee})"


class ZoneRemplacement(models.Model):
    code = models.CharField("code", max_length=20, unique=True)
    libelle = models.CharField("libellé", max_length=150)
    communes = models.ManyToManyField(Commune, verbose_name="communes", related_name="zones", blank=True)

    class Meta:
        verbose_name = "zone de remplacement"
        verbose_name_plural = "zones de remplacement"
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} – {self.libelle}"


class Etablissement(models.Model):
    uai = models.CharField("UAI", max_length=8, unique=True, validators=[validate_uai])
    nom = models.CharField("nom", max_length=255)
    type = models.CharField("type", max_length=10, choices=TypeEtablissement.choices)
    public = models.BooleanField("public", default=True)
    departement = models.ForeignKey(
        Departement, verbose_name="département", on_delete=models.PROTECT, related_name="etablissements"
    )
    commune = models.ForeignKey(
        Commune, verbose_name="commune", on_delete=models.PROTECT, related_name="etablissements"
    )
    latitude = models.FloatField("latitude", null=True, blank=True)
    longitude = models.FloatField("longitude", null=True, blank=True)
    position = models.CharField("position", max_length=15, choices=Position.choices, default=Position.INCONNUE)
    ouvert = models.BooleanField("ouvert", default=True)

    class Meta:
        verbose_name = "établissement"
        verbose_name_plural = "établissements"
        ordering = ["uai"]
        constraints = [
            models.CheckConstraint(condition=Q(uai__regex=r"^[0-9]{7}[A-Z]$"), name="etablissement_uai_shape"),
            models.CheckConstraint(
                condition=(Q(latitude__isnull=True) & Q(longitude__isnull=True))
                | (Q(latitude__gte=-90) & Q(latitude__lte=90) & Q(longitude__gte=-180) & Q(longitude__lte=180)),
                name="etablissement_coordinates_valid",
            ),
        ]
        # The partner search reads the schools within a box of latitude and longitude (web.recherche).
        indexes = [models.Index(fields=["latitude", "longitude"], name="etablissement_position")]

    def __str__(self):
        return f"{self.nom} ({self.uai})"

    @property
    def adresse_mail(self) -> str:
        """The school's mailbox, as the instruction gives it: ce.<uai in lower case>@<académie domain>."""
        return f"ce.{self.uai.lower()}@{settings.ACADEMIE_MAIL_DOMAIN}"

    @property
    def est_lycee(self) -> bool:
        return self.type in TYPES_LYCEE

    @property
    def position_approximative(self) -> bool:
        return self.position == Position.APPROXIMATIVE


class Service(models.Model):
    """A DOS service (a DSDEN or the Rectorat): its agents act with its UAI, within its perimeter."""

    uai = models.CharField("UAI", max_length=8, unique=True, validators=[validate_uai])
    nom = models.CharField("nom", max_length=150)
    perimetre = models.CharField("périmètre", max_length=10, choices=Perimetre.choices)
    departement = models.ForeignKey(
        Departement,
        verbose_name="département",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text="Pour une DSDEN : le département dont elle gère les collèges.",
    )

    class Meta:
        verbose_name = "service"
        verbose_name_plural = "services"
        ordering = ["uai"]
        constraints = [
            models.CheckConstraint(
                condition=Q(perimetre=Perimetre.LYCEES, departement__isnull=True)
                | Q(perimetre=Perimetre.COLLEGES, departement__isnull=False),
                name="service_perimeter_consistent",
            ),
        ]

    def __str__(self):
        return f"{self.nom} ({self.uai})"

    def etablissements_q(self, prefix: str = "") -> Q:
        """Q filtering the schools within this service's perimeter (prefix: path to the school)."""
        if self.perimetre == Perimetre.LYCEES:
            return Q(**{f"{prefix}type__in": TYPES_LYCEE})
        return ~Q(**{f"{prefix}type__in": TYPES_LYCEE}) & Q(**{f"{prefix}departement_id": self.departement_id})

    def couvre(self, etablissement: Etablissement) -> bool:
        if self.perimetre == Perimetre.LYCEES:
            return etablissement.est_lycee
        return not etablissement.est_lycee and etablissement.departement_id == self.departement_id


class Discipline(models.Model):
    code = models.CharField("code", max_length=10, unique=True, help_text="Discipline de poste, ex. L1300.")
    libelle = models.CharField("libellé", max_length=150)
    heures_temps_plein = models.PositiveSmallIntegerField(
        "heures d'un temps plein", default=18, help_text="Cible d'un jumelage : 18 h, 20 h en EPS (L1900)."
    )

    class Meta:
        verbose_name = "discipline"
        verbose_name_plural = "disciplines"
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(heures_temps_plein__gt=0) & Q(heures_temps_plein__lte=36),
                name="discipline_full_time_hours_range",
            ),
        ]

    def __str__(self):
        return f"{self.code} – {self.libelle}"


class Profil(models.Model):
    """Who a user acts for: one or more schools (a head; several for a cité scolaire), or a service (an agent)."""

    utilisateur = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name="utilisateur", on_delete=models.CASCADE, related_name="profil"
    )
    etablissements = models.ManyToManyField(
        Etablissement, verbose_name="établissements", related_name="profils", blank=True
    )
    service = models.ForeignKey(
        Service, verbose_name="service", on_delete=models.PROTECT, null=True, blank=True, related_name="agents"
    )

    class Meta:
        verbose_name = "profil"
        verbose_name_plural = "profils"

    def __str__(self):
        return f"Profil de {self.utilisateur}"
