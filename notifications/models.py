"""The outbox of mails to the schools, which is also their in-app list of notifications.

Every operation alerts the mailbox ce.<uai>@… of each school
concerned, after the database change is committed. One row per mail, written in the
transaction of the operation: its unique key (event, school) — or (request, school) for a
reminder — makes each mail exist once; its own Message-ID, fixed at creation, is reused
when the row is sent again, so that a rare duplicate folds in the mail clients.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from bmp.models import Campagne
from establishments.models import Etablissement
from jumelages.models import Demande, Evenement, Jumelage

from .enums import RAPPEL_ECHEANCE, StatutEnvoi, TypeNotification


# Foreign keys without a database constraint: evenement, demande, jumelage, campagne. The rows
# are written from the event itself (INSERT … SELECT in services.notifier), which the same
# statement reads, or from the request (reminders); none of these is ever deleted (PROTECT
# everywhere). A constraint would make PostgreSQL check and lock the referenced row at commit
# for each of the 20,000 rows of a large sweep: 0.3 s of the expiry's 2 s budget, measured
# with bench/bench_expiry.py --with-receivers (the workflow's own event links made the same
# choice). The school, referenced by a few hundred rows each, keeps its constraint.
class Notification(models.Model):
    """One mail to one school about one event (or one reminder), and its delivery state."""

    type = models.CharField("type", max_length=30, choices=TypeNotification.choices)
    evenement = models.ForeignKey(
        Evenement,
        verbose_name="événement",
        on_delete=models.PROTECT,
        db_index=False,  # the unique (evenement, etablissement) index serves
        db_constraint=False,  # see the note above Notification
        null=True,
        blank=True,
        related_name="notifications",
        help_text="Vide pour un rappel avant échéance.",
    )
    demande = models.ForeignKey(
        Demande,
        verbose_name="demande",
        on_delete=models.PROTECT,
        db_index=False,  # read by the reminder sweep only, through its unique index
        db_constraint=False,  # see the note above Notification
        null=True,
        blank=True,
        related_name="notifications",
    )
    jumelage = models.ForeignKey(
        Jumelage,
        verbose_name="jumelage",
        on_delete=models.PROTECT,
        db_index=False,  # never read by jumelage; every index slows the bulk writes of the sweeps
        db_constraint=False,
        null=True,
        blank=True,
        related_name="notifications",
    )
    campagne = models.ForeignKey(
        Campagne,
        verbose_name="campagne",
        on_delete=models.PROTECT,
        db_index=False,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    etablissement = models.ForeignKey(
        Etablissement,
        verbose_name="établissement",
        on_delete=models.PROTECT,
        db_index=False,  # the (etablissement, -cree_le) index serves
        related_name="notifications",
    )
    adresse = models.CharField(
        "adresse",
        max_length=254,
        blank=True,
        help_text="ce.<uai>@<domaine de l'académie> ; vide si l'UAI est invalide.",
    )
    message_id = models.CharField("Message-ID", max_length=255, help_text="Le même à chaque renvoi de ce mail.")
    statut = models.CharField("statut", max_length=10, choices=StatutEnvoi.choices, default=StatutEnvoi.A_ENVOYER)
    tentatives = models.PositiveSmallIntegerField("tentatives", default=0)
    derniere_erreur = models.TextField("dernière erreur", blank=True)
    cree_le = models.DateTimeField("créée le", default=timezone.now)
    prochain_essai_le = models.DateTimeField(
        "prochain essai le", default=timezone.now, help_text="Pas d'envoi avant cet instant (attente entre essais)."
    )
    reclame_le = models.DateTimeField(
        "pris en charge le", null=True, blank=True, help_text="Quand une tâche a commencé son envoi."
    )
    envoye_le = models.DateTimeField("envoyé le", null=True, blank=True)
    sujet = models.CharField("sujet", max_length=255, blank=True)
    texte = models.TextField("texte", blank=True)
    html = models.TextField("HTML", blank=True)
    lue = models.BooleanField("lue", default=False)
    lue_le = models.DateTimeField("lue le", null=True, blank=True)

    class Meta:
        verbose_name = "notification"
        verbose_name_plural = "notifications"
        ordering = ["-cree_le", "-pk"]
        constraints = [
            # A constraint rather than unique=True: no useless LIKE index to update on each insert.
            models.UniqueConstraint(
                fields=["message_id"],
                name="notification_unique_message_id",
                violation_error_message="Deux mails ne partagent jamais un Message-ID.",
            ),
            models.UniqueConstraint(
                fields=["evenement", "etablissement"],
                condition=Q(evenement__isnull=False),
                name="notification_one_per_event_and_school",
                violation_error_message="Cet établissement a déjà une notification pour cet événement.",
            ),
            models.UniqueConstraint(
                fields=["demande", "etablissement"],
                condition=Q(type=RAPPEL_ECHEANCE),
                name="notification_one_reminder_per_request_and_school",
                violation_error_message="Cet établissement a déjà reçu un rappel pour cette demande.",
            ),
            models.CheckConstraint(
                condition=Q(type=RAPPEL_ECHEANCE, evenement__isnull=True, demande__isnull=False)
                | (~Q(type=RAPPEL_ECHEANCE) & Q(evenement__isnull=False)),
                name="notification_event_or_reminder",
            ),
            models.CheckConstraint(
                condition=Q(lue=False, lue_le__isnull=True) | Q(lue=True, lue_le__isnull=False),
                name="notification_read_dated",
            ),
            models.CheckConstraint(
                condition=~Q(statut=StatutEnvoi.EN_COURS) | Q(reclame_le__isnull=False),
                name="notification_claim_dated",
            ),
        ]
        indexes = [
            models.Index(fields=["etablissement", "-cree_le"], name="notification_school_list"),
            # The outbox sweep reads the rows left unsent.
            models.Index(
                fields=["prochain_essai_le"],
                condition=Q(statut__in=[StatutEnvoi.A_ENVOYER, StatutEnvoi.EN_COURS]),
                name="notification_outbox_pending",
            ),
        ]

    def __str__(self):
        return f"{self.get_type_display()} → {self.adresse or 'adresse invalide'} ({self.get_statut_display().lower()})"

    @property
    def titre(self) -> str:
        """The subject once the mail is written, else the kind of event (for the in-app list)."""
        return self.sujet or self.get_type_display()
