from django.db import models


class Phase(models.TextChoices):
    PREPARATION = "preparation", "préparation"
    OUVERTE = "ouverte", "ouverte"
    VALIDATION = "validation", "validation"
    CONSULTATION = "consultation", "consultation"
    ARCHIVEE = "archivee", "archivée"


class StatutImport(models.TextChoices):
    APPLIQUE = "applique", "Appliqué"
    A_BLANC = "a_blanc", "Essai à blanc"
    REJETE = "rejete", "Rejeté"
    ECHEC = "echec", "Échec"
