from django.db import models


class TypeEtablissement(models.TextChoices):
    COLLEGE = "COLLEGE", "Collège"
    LGT = "LGT", "Lycée général et technologique"
    LPO = "LPO", "Lycée polyvalent"
    LP = "LP", "Lycée professionnel"
    EREA = "EREA", "EREA"


# The Rectorat manages these kinds; each DSDEN manages the others in its département.
TYPES_LYCEE = (TypeEtablissement.LGT, TypeEtablissement.LPO, TypeEtablissement.LP, TypeEtablissement.EREA)


class Position(models.TextChoices):
    EXACTE = "EXACTE", "Exacte"
    APPROXIMATIVE = "APPROXIMATIVE", "Approximative (centre de la commune)"
    INCONNUE = "INCONNUE", "Inconnue"


class Perimetre(models.TextChoices):
    COLLEGES = "COLLEGES", "Collèges du département"
    LYCEES = "LYCEES", "Lycées et EREA de l'académie"
