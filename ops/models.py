"""What the health check reads: the last run of each beat heartbeat."""

from django.db import models


class Heartbeat(models.Model):
    """Written every minute by the beat task ops.tasks.heartbeat: its age tells whether beat runs."""

    nom = models.CharField("nom", max_length=50, unique=True)
    vu_le = models.DateTimeField("dernier passage")

    class Meta:
        verbose_name = "battement de l'ordonnanceur"
        verbose_name_plural = "battements de l'ordonnanceur"

    def __str__(self):
        return f"{self.nom} ({self.vu_le:%d/%m/%Y %H:%M:%S})"
