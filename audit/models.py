"""The security journal: every login, failed login and logout (the admin's own LogEntry records
every change made in the admin)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .enums import Methode, TypeConnexion


class Connexion(models.Model):
    type = models.CharField("événement", max_length=12, choices=TypeConnexion.choices)
    methode = models.CharField("méthode", max_length=12, choices=Methode.choices)
    date = models.DateTimeField("date", default=timezone.now, db_index=True)
    utilisateur = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="utilisateur",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    identifiant = models.CharField(
        "identifiant saisi", max_length=254, blank=True, help_text="L'identifiant ou l'adresse présentés."
    )
    adresse_ip = models.GenericIPAddressField("adresse IP", null=True, blank=True)
    navigateur = models.CharField("navigateur", max_length=300, blank=True)
    detail = models.TextField("détail", blank=True)

    class Meta:
        verbose_name = "connexion"
        verbose_name_plural = "journal des connexions"
        ordering = ["-date"]
        indexes = [models.Index(fields=["identifiant", "-date"], name="audit_connexion_identifiant")]

    def __str__(self):
        quand = timezone.localtime(self.date)
        return f"{self.get_type_display()} de {self.identifiant or '?'} le {quand:%d/%m/%Y %H:%M}"
