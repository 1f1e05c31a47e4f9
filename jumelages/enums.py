from django.db import models


class EtatDemande(models.TextChoices):
    """The states of a request: en attente, then acceptée, refusée, annulée (by the requester),
    expirée (no answer within the deadline) or caduque (made impossible)."""

    EN_ATTENTE = "en_attente", "En attente"
    ACCEPTEE = "acceptee", "Acceptée"
    REFUSEE = "refusee", "Refusée"
    ANNULEE = "annulee", "Annulée"
    EXPIREE = "expiree", "Expirée"
    CADUQUE = "caduque", "Caduque"


class Motif(models.TextChoices):
    """The motives a school or a service gives when refusing a request or deleting a jumelage."""

    ZONES_DIFFERENTES = "zones_differentes", "Zones de remplacement différentes"
    QUOTITE_INADAPTEE = "quotite_inadaptee", "Quotité inadaptée"
    AUTRE = "autre", "Autre"


class OrigineJumelage(models.TextChoices):
    DEMANDE = "demande", "Demande d'un établissement"
    SERVICE = "service", "Construit par un service"


class TypeEvenement(models.TextChoices):
    DEMANDE_ENVOYEE = "demande_envoyee", "Demande envoyée"
    DEMANDE_ACCEPTEE = "demande_acceptee", "Demande acceptée"
    DEMANDE_REFUSEE = "demande_refusee", "Demande refusée"
    DEMANDE_ANNULEE = "demande_annulee", "Demande annulée"
    DEMANDE_EXPIREE = "demande_expiree", "Demande expirée"
    DEMANDE_CADUQUE = "demande_caduque", "Demande devenue caduque"
    JUMELAGE_CREE = "jumelage_cree", "Jumelage construit par un service"
    JUMELAGE_ETENDU = "jumelage_etendu", "Jumelage étendu à trois BMP"
    JUMELAGE_SUPPRIME = "jumelage_supprime", "Jumelage supprimé"
    JUMELAGE_VALIDE = "jumelage_valide", "Jumelage validé"
    RATTACHEMENT_MODIFIE = "rattachement_modifie", "Établissement de rattachement modifié"
    BMP_MODIFIE = "bmp_modifie", "Heures d'un BMP modifiées par l'actualisation"
    BMP_RETIRE = "bmp_retire", "BMP retiré par l'actualisation"
    BMP_RESTAURE = "bmp_restaure", "BMP restauré par l'actualisation"
    CAMPAGNE_CLOTUREE = "campagne_cloturee", "Campagne close aux établissements"


class EtatJumelage(models.TextChoices):
    """A jumelage's state, derived from its fields (JumelageQuerySet.avec_etat): supprimé wins, then
    à revoir (one of its BMPs was withdrawn by the refresh: the services look again, even after a
    validation), then validé, else effectif (a jumelage holds as it is, without anybody's agreement)."""

    EFFECTIF = "effectif", "Effectif"
    VALIDE = "valide", "Validé"
    A_REVOIR = "a_revoir", "À revoir"
    SUPPRIME = "supprime", "Supprimé"


class EtatBMP(models.TextChoices):
    """A BMP's state in the campaign (bmps_avec_etat): retiré by the refresh, else jumelé (in an
    active jumelage), else « demande en cours » (a pending request from or to it), else libre."""

    LIBRE = "libre", "libre"
    DEMANDE = "demande", "demande en cours"
    JUMELE = "jumele", "jumelé"
    RETIRE = "retire", "retiré"
