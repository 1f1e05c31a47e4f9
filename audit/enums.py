from django.db import models


class TypeConnexion(models.TextChoices):
    CONNEXION = "connexion", "connexion"
    ECHEC = "echec", "échec de connexion"
    DECONNEXION = "deconnexion", "déconnexion"


class Methode(models.TextChoices):
    MOT_DE_PASSE = "mot_de_passe", "mot de passe (compte local)"
    PROCONNECT = "proconnect", "ProConnect"
