from django.db import models

from jumelages.enums import TypeEvenement


class StatutEnvoi(models.TextChoices):
    """Where a mail of the outbox stands (one row per mail)."""

    A_ENVOYER = "a_envoyer", "À envoyer"
    EN_COURS = "en_cours", "En cours"
    ENVOYE = "envoye", "Envoyé"
    EN_ECHEC = "en_echec", "En échec"


RAPPEL_ECHEANCE = "rappel_echeance"

# Every event of the workflow, plus the reminder sent before a request's deadline (our addition).
TypeNotification = models.TextChoices(
    "TypeNotification",
    [(member.name, (member.value, member.label)) for member in TypeEvenement]
    + [("RAPPEL_ECHEANCE", (RAPPEL_ECHEANCE, "Rappel avant l'échéance d'une demande"))],
)
