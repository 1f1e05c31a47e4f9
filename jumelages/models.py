"""Requests, jumelages and the history of every operation.

The database keeps the invariants true on its own: one active jumelage per BMP, at most
three BMPs of different schools in a jumelage, at most two pending outgoing requests per
BMP, and a request's state tied to the fields of its answer. Every change goes through
jumelages.services.
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone

from bmp.enums import Phase
from bmp.models import BMP, Campagne
from common.formats import format_heures, format_nombre  # noqa: F401 (format_nombre: re-exported)
from establishments.models import Discipline, Etablissement, Service

from .enums import EtatBMP, EtatDemande, EtatJumelage, Motif, OrigineJumelage, TypeEvenement

# A comment counts only if it holds something else than spaces.
NON_BLANK = r"\S"


def instant_de_cloture(campagne: Campagne) -> datetime.datetime:
    """When the schools stop acting: the start of the validation phase (Paris midnight)."""
    return dict((phase, start) for start, phase in campagne.boundaries())[Phase.VALIDATION]


def ecart_cible_alerte() -> Decimal:
    """Hours from the full-time target beyond which a jumelage is shown as far from it (setting
    JUMO_ECART_CIBLE_ALERTE_HEURES, 2 h by default): the admin's column and filter, the dashboard."""
    return Decimal(str(getattr(settings, "JUMO_ECART_CIBLE_ALERTE_HEURES", 2)))


def avertissement_total(total: Decimal, cible: int | None) -> str:
    """Above the target, a warning, not an error (our decision: the instruction sets no maximum); "" otherwise."""
    if cible is None or total <= cible:
        return ""
    return f"Le total ({format_heures(total)}) dépasse le temps plein de la discipline ({cible} h)."


class JumelageQuerySet(models.QuerySet):
    def avec_etat(self):
        """Each jumelage's state (EtatJumelage) as the annotation `etat`, computed by the database: the
        admin's column and filter, the exports and the dashboard read it."""
        return self.annotate(
            etat=Case(
                When(actif=False, then=Value(EtatJumelage.SUPPRIME)),
                When(a_revoir=True, then=Value(EtatJumelage.A_REVOIR)),
                When(valide=True, then=Value(EtatJumelage.VALIDE)),
                default=Value(EtatJumelage.EFFECTIF),
                output_field=models.CharField(),
            )
        )

    def actifs(self):
        return self.filter(actif=True)


class Jumelage(models.Model):
    """Two or three BMPs of one discipline, from different schools, in one campaign."""

    campagne = models.ForeignKey(Campagne, verbose_name="campagne", on_delete=models.PROTECT, related_name="jumelages")
    discipline = models.ForeignKey(
        Discipline, verbose_name="discipline", on_delete=models.PROTECT, related_name="jumelages"
    )
    bmps = models.ManyToManyField(BMP, verbose_name="BMP", through="JumelageBMP", related_name="jumelages")
    actif = models.BooleanField("actif", default=True, help_text="Décoché : supprimé (l'historique est conservé).")
    origine = models.CharField("origine", max_length=10, choices=OrigineJumelage.choices)
    rattachement = models.ForeignKey(
        Etablissement,
        verbose_name="établissement de rattachement",
        on_delete=models.PROTECT,
        related_name="jumelages_rattaches",
        help_text="L'établissement qui porte le plus d'heures, sauf choix du service.",
    )
    rattachement_choisi = models.BooleanField(
        "rattachement choisi par un service",
        default=False,
        help_text="Coché : le rattachement n'est plus recalculé quand les heures changent.",
    )
    total_heures = models.DecimalField("total des heures", max_digits=5, decimal_places=2)
    a_revoir = models.BooleanField(
        "à revoir", default=False, help_text="Un de ses BMP a été retiré par l'actualisation nocturne."
    )
    cree_le = models.DateTimeField("créé le", default=timezone.now)
    cree_par = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="créé par",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    valide = models.BooleanField("validé", default=False)
    valide_le = models.DateTimeField("validé le", null=True, blank=True)
    valide_par = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="validé par",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    supprime_le = models.DateTimeField("supprimé le", null=True, blank=True)
    supprime_par = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="supprimé par",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    motif_suppression = models.CharField("motif de suppression", max_length=20, choices=Motif.choices, blank=True)
    commentaire_suppression = models.TextField("commentaire de suppression", blank=True)

    objects = JumelageQuerySet.as_manager()

    class Meta:
        verbose_name = "jumelage"
        verbose_name_plural = "jumelages"
        ordering = ["-cree_le"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_heures__gt=0), name="jumelage_total_positive", violation_error_message="Total nul."
            ),
            models.CheckConstraint(
                condition=Q(actif=True, supprime_le__isnull=True, motif_suppression="")
                | (Q(actif=False, supprime_le__isnull=False) & ~Q(motif_suppression="")),
                name="jumelage_deleted_with_motive",
                violation_error_message="Un jumelage supprimé porte une date et un motif de suppression.",
            ),
            models.CheckConstraint(
                condition=~Q(motif_suppression=Motif.AUTRE) | Q(commentaire_suppression__regex=NON_BLANK),
                name="jumelage_deletion_autre_has_comment",
                violation_error_message="Avec le motif « Autre », un commentaire est obligatoire.",
            ),
            models.CheckConstraint(
                condition=Q(valide=False, valide_le__isnull=True) | Q(valide=True, valide_le__isnull=False),
                name="jumelage_validation_dated",
            ),
        ]

    def __str__(self):
        return f"Jumelage n° {self.pk} – {self.discipline.code} {format_heures(self.total_heures)}"

    @property
    def cible_heures(self) -> int:
        """The full-time target of the discipline: 18 h, 20 h in EPS (L1900)."""
        return self.discipline.heures_temps_plein

    @property
    def au_dessus_de_la_cible(self) -> bool:
        return self.total_heures > self.cible_heures

    @property
    def avertissement(self) -> str:
        return avertissement_total(self.total_heures, self.cible_heures)


class JumelageBMP(models.Model):
    """A BMP's place in a jumelage; `actif` follows the jumelage so that the database keeps one per BMP."""

    jumelage = models.ForeignKey(
        Jumelage, verbose_name="jumelage", on_delete=models.CASCADE, related_name="appartenances"
    )
    bmp = models.ForeignKey(BMP, verbose_name="BMP", on_delete=models.PROTECT, related_name="appartenances")
    # Copied from the BMP (a refresh never changes a BMP's school: it replaces the BMP) so that
    # the database can refuse two BMPs of one school in a jumelage.
    etablissement = models.ForeignKey(
        Etablissement, verbose_name="établissement", on_delete=models.PROTECT, related_name="+"
    )
    position = models.PositiveSmallIntegerField("position", help_text="1, 2 ou 3 : un jumelage a au plus trois BMP.")
    actif = models.BooleanField("actif", default=True)
    ajoute_le = models.DateTimeField("ajouté le", default=timezone.now)

    class Meta:
        verbose_name = "BMP du jumelage"
        verbose_name_plural = "BMP du jumelage"
        ordering = ["jumelage", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["bmp"],
                condition=Q(actif=True),
                name="jumelage_bmp_one_active_per_bmp",
                violation_error_message="Ce BMP fait déjà partie d'un jumelage actif.",
            ),
            models.UniqueConstraint(fields=["jumelage", "bmp"], name="jumelage_bmp_unique_bmp"),
            models.UniqueConstraint(
                fields=["jumelage", "etablissement"],
                name="jumelage_bmp_one_per_school",
                violation_error_message="Un jumelage réunit des BMP d'établissements différents.",
            ),
            models.UniqueConstraint(fields=["jumelage", "position"], name="jumelage_bmp_unique_position"),
            models.CheckConstraint(
                condition=Q(position__gte=1, position__lte=3),
                name="jumelage_bmp_at_most_three",
                violation_error_message="Un jumelage compte au plus trois BMP.",
            ),
        ]

    def __str__(self):
        return f"{self.bmp} dans le jumelage n° {self.jumelage_id}"


class Demande(models.Model):
    """A school's request to pair one of its BMPs with another school's BMP, or to join a jumelage of two."""

    # The workflow reads pending requests only: they are indexed by partial indexes (Meta),
    # so that ending a request (the expiry sweep ends thousands) updates no other index.
    campagne = models.ForeignKey(
        Campagne, verbose_name="campagne", on_delete=models.PROTECT, related_name="demandes", db_index=False
    )
    bmp = models.ForeignKey(
        BMP, verbose_name="BMP demandeur", on_delete=models.PROTECT, related_name="demandes", db_index=False
    )
    cible = models.ForeignKey(
        BMP,
        verbose_name="BMP demandé",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="demandes_recues",
        db_index=False,
    )
    cible_jumelage = models.ForeignKey(
        Jumelage,
        verbose_name="jumelage demandé",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="demandes_recues",
        db_index=False,
    )
    trois = models.BooleanField(
        "jumelage à trois BMP",
        default=False,
        help_text="Le demandeur veut un jumelage de trois BMP : une deuxième demande en attente est permise.",
    )
    rang = models.PositiveSmallIntegerField(
        "rang", default=1, help_text="1 ou 2 parmi les demandes en attente du BMP (2 : jumelage à trois BMP)."
    )
    etat = models.CharField("état", max_length=12, choices=EtatDemande.choices, default=EtatDemande.EN_ATTENTE)
    envoyee_le = models.DateTimeField("envoyée le", default=timezone.now)
    envoyee_par = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="envoyée par",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # nobody searches by it; the sweeps rewrite these rows in bulk
    )
    echeance = models.DateTimeField("échéance", help_text="Envoi + délai de réponse (72 heures).")
    terminee_le = models.DateTimeField("réponse ou fin le", null=True, blank=True)
    terminee_par = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="réponse ou fin par",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    motif = models.CharField("motif de refus", max_length=20, choices=Motif.choices, blank=True)
    commentaire = models.TextField("commentaire", blank=True)
    raison_caducite = models.TextField("raison de la caducité", blank=True)
    jumelage = models.ForeignKey(
        Jumelage,
        verbose_name="jumelage obtenu",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="demandes_acceptees",
        db_index=False,
    )

    class Meta:
        verbose_name = "demande"
        verbose_name_plural = "demandes"
        ordering = ["-envoyee_le"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cible__isnull=False, cible_jumelage__isnull=True)
                | Q(cible__isnull=True, cible_jumelage__isnull=False),
                name="demande_one_target",
                violation_error_message="Une demande vise un BMP ou un jumelage de deux BMP.",
            ),
            models.CheckConstraint(condition=~Q(cible=F("bmp")), name="demande_not_to_itself"),
            models.CheckConstraint(condition=Q(echeance__gt=F("envoyee_le")), name="demande_deadline_after_sending"),
            models.CheckConstraint(
                condition=Q(rang=1) | Q(rang=2, trois=True),
                name="demande_second_only_for_three",
                violation_error_message="Une deuxième demande en attente n'est permise que pour un jumelage à trois.",
            ),
            # The state and the fields of the answer go together: a request is answered once.
            models.CheckConstraint(
                condition=Q(etat=EtatDemande.EN_ATTENTE, terminee_le__isnull=True)
                | (~Q(etat=EtatDemande.EN_ATTENTE) & Q(terminee_le__isnull=False)),
                name="demande_pending_iff_unanswered",
            ),
            models.CheckConstraint(
                condition=Q(etat=EtatDemande.ACCEPTEE, jumelage__isnull=False)
                | (~Q(etat=EtatDemande.ACCEPTEE) & Q(jumelage__isnull=True)),
                name="demande_accepted_iff_jumelage",
            ),
            models.CheckConstraint(
                condition=(Q(etat=EtatDemande.REFUSEE) & ~Q(motif="")) | (~Q(etat=EtatDemande.REFUSEE) & Q(motif="")),
                name="demande_refused_iff_motive",
                violation_error_message="Un refus porte un motif.",
            ),
            models.CheckConstraint(
                condition=~Q(motif=Motif.AUTRE) | Q(commentaire__regex=NON_BLANK),
                name="demande_autre_has_comment",
                violation_error_message="Avec le motif « Autre », un commentaire est obligatoire.",
            ),
            models.UniqueConstraint(
                fields=["bmp", "rang"],
                condition=Q(etat=EtatDemande.EN_ATTENTE),
                name="demande_at_most_two_pending_per_bmp",
                violation_error_message="Ce BMP a déjà le nombre maximal de demandes en attente.",
            ),
            models.UniqueConstraint(
                fields=["bmp", "cible"],
                condition=Q(etat=EtatDemande.EN_ATTENTE),
                name="demande_pending_unique_bmp_target",
            ),
            models.UniqueConstraint(
                fields=["bmp", "cible_jumelage"],
                condition=Q(etat=EtatDemande.EN_ATTENTE),
                name="demande_pending_unique_jumelage_target",
            ),
        ]
        indexes = [
            # The sweeps read pending requests by deadline; the operations, by BMP (the unique
            # constraints above) or by target.
            models.Index(
                fields=["echeance"], condition=Q(etat=EtatDemande.EN_ATTENTE), name="demande_pending_deadline"
            ),
            models.Index(fields=["cible"], condition=Q(etat=EtatDemande.EN_ATTENTE), name="demande_pending_cible"),
            models.Index(
                fields=["cible_jumelage"], condition=Q(etat=EtatDemande.EN_ATTENTE), name="demande_pending_jumelage"
            ),
        ]

    def __str__(self):
        return f"Demande n° {self.pk} ({self.get_etat_display().lower()})"

    def est_echue(self, instant=None) -> bool:
        """Past its deadline: treated as expired even before the expiry task runs."""
        return timezone.now() >= self.echeance if instant is None else instant >= self.echeance

    @property
    def etat_effectif(self) -> str:
        """The state a user should see, whether the sweeps have run or not.

        A pending request whose deadline came before the campaign closed is expired once
        past it; one still open at the closing is caduque from then on.
        """
        if self.etat != EtatDemande.EN_ATTENTE:
            return self.etat
        now, cloture = timezone.now(), instant_de_cloture(self.campagne)
        if now >= cloture and self.echeance > cloture:
            return EtatDemande.CADUQUE
        if self.est_echue(now):
            return EtatDemande.EXPIREE
        return self.etat


def nom_auteur(user) -> str:
    """A user as JUMO names him: « Prénom NOM », his login when both are empty, and « un
    utilisateur supprimé » when the account is gone."""
    if user is None:
        return "un utilisateur supprimé"
    nom = " ".join(part for part in (user.first_name.strip(), user.last_name.strip().upper()) if part)
    return nom or user.get_username()


class Evenement(models.Model):
    """One operation of the workflow, recorded in its transaction and announced by jumelages.signals."""

    type = models.CharField("type", max_length=30, choices=TypeEvenement.choices)
    date = models.DateTimeField("date", default=timezone.now, db_index=True)
    # Events are written in bulk by the sweeps: only the columns the history is read by are indexed.
    auteur = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="auteur",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="evenements_jumo",
        help_text="Vide pour une tâche planifiée ou l'actualisation nocturne.",
        db_index=False,
    )
    pour_etablissement = models.ForeignKey(
        Etablissement,
        verbose_name="au nom de l'établissement",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evenements_auteur",
        db_index=False,
    )
    pour_service = models.ForeignKey(
        Service,
        verbose_name="au nom du service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evenements_auteur",
        db_index=False,
    )
    motif = models.CharField("motif", max_length=20, choices=Motif.choices, blank=True)
    commentaire = models.TextField("commentaire", blank=True)
    campagne = models.ForeignKey(
        Campagne,
        verbose_name="campagne",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evenements",
        db_index=False,
    )
    demande = models.ForeignKey(
        Demande, verbose_name="demande", on_delete=models.PROTECT, null=True, blank=True, related_name="evenements"
    )
    jumelage = models.ForeignKey(
        Jumelage, verbose_name="jumelage", on_delete=models.PROTECT, null=True, blank=True, related_name="evenements"
    )
    bmps = models.ManyToManyField(
        BMP, verbose_name="BMP concernés", blank=True, related_name="evenements", through="EvenementBMP"
    )
    etablissements_concernes = models.ManyToManyField(
        Etablissement,
        verbose_name="établissements concernés",
        blank=True,
        related_name="evenements",
        through="EvenementEtablissement",
        help_text="Chacun reçoit une alerte sur sa boîte ce.<uai>@…",
    )
    services_concernes = models.ManyToManyField(
        Service, verbose_name="services concernés", blank=True, related_name="evenements", through="EvenementService"
    )
    donnees = models.JSONField("données", default=dict, blank=True, help_text="Détails : heures, ancien rattachement…")

    class Meta:
        verbose_name = "événement"
        verbose_name_plural = "événements"
        ordering = ["-date", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["campagne"],
                condition=Q(type=TypeEvenement.CAMPAGNE_CLOTUREE),
                name="evenement_one_closing_per_campagne",
                violation_error_message="La clôture de cette campagne est déjà enregistrée.",
            ),
        ]

    def __str__(self):
        return f"{self.get_type_display()} – {timezone.localtime(self.date):%d/%m/%Y %H:%M}"

    @property
    def par_jumo(self) -> bool:
        """Recorded by JUMO itself (a sweep, the nightly refresh), not by a person."""
        return self.auteur_id is None and self.pour_etablissement_id is None and self.pour_service_id is None

    @property
    def au_nom_de(self) -> Service | Etablissement | None:
        """Whom the author acted for: the service when a DOS agent acted, else the author's school;
        None for an administrator of JUMO or JUMO itself."""
        if self.pour_service_id:
            return self.pour_service
        if self.pour_etablissement_id:
            return self.pour_etablissement
        return None

    @property
    def auteur_uai(self) -> str:
        """The UAI shown in mails: the author's school, or the service's when a DOS agent acted."""
        au_nom_de = self.au_nom_de
        return au_nom_de.uai if au_nom_de else ""

    def auteur_libelle(self, *, pour: bool = False) -> str:
        """Who did it, the one wording of an event's author.

        As the mails say it after « par »: « Camille MARTIN (0940001A) », the UAI being the
        author's school, or the service's when a DOS agent acted; « Camille MARTIN
        (administration de JUMO) »; « un traitement automatique de JUMO ». With `pour`, as the
        history says it, naming the school or service: « Camille MARTIN pour Collège A
        (0940001A) », « Camille MARTIN pour le service DSDEN 94 (0941234X) », « JUMO (traitement
        automatique) ».
        """
        if self.par_jumo:
            return "JUMO (traitement automatique)" if pour else "un traitement automatique de JUMO"
        nom, au_nom_de = nom_auteur(self.auteur), self.au_nom_de
        if au_nom_de is None:
            return f"{nom} (administration de JUMO)"
        if not pour:
            return f"{nom} ({au_nom_de.uai})"
        if self.pour_service_id:
            return f"{nom} pour le service {au_nom_de.nom} ({au_nom_de.uai})"
        return f"{nom} pour {au_nom_de.nom} ({au_nom_de.uai})"


# The links of the history, keyed by (event, other). The expiry sweep writes tens of
# thousands of them at once: their foreign keys are not checked by the database (a check
# per row, each locking the row it refers to, took over a second for the benchmark's
# 10,000 expired requests). That is safe because nothing they refer to is deleted in
# practice (events and requests are protected, BMPs are withdrawn, not deleted), and
# Django still applies on_delete.


class EvenementBMP(models.Model):
    pk = models.CompositePrimaryKey("evenement", "bmp")
    evenement = models.ForeignKey(
        Evenement, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    bmp = models.ForeignKey(BMP, on_delete=models.CASCADE, db_constraint=False, related_name="+")

    class Meta:
        verbose_name = "BMP concerné"
        verbose_name_plural = "BMP concernés"

    def __str__(self):
        return f"{self.evenement_id} → {self.bmp_id}"


class EvenementEtablissement(models.Model):
    pk = models.CompositePrimaryKey("evenement", "etablissement")
    evenement = models.ForeignKey(
        Evenement, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    etablissement = models.ForeignKey(Etablissement, on_delete=models.CASCADE, db_constraint=False, related_name="+")

    class Meta:
        verbose_name = "établissement concerné"
        verbose_name_plural = "établissements concernés"

    def __str__(self):
        return f"{self.evenement_id} → {self.etablissement_id}"


class EvenementService(models.Model):
    pk = models.CompositePrimaryKey("evenement", "service")
    evenement = models.ForeignKey(
        Evenement, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    service = models.ForeignKey(Service, on_delete=models.CASCADE, db_constraint=False, related_name="+")

    class Meta:
        verbose_name = "service concerné"
        verbose_name_plural = "services concernés"

    def __str__(self):
        return f"{self.evenement_id} → {self.service_id}"


# --- Conditions the DOS workspace's reads share ----------------------------------------------------


def dans_un_jumelage_actif() -> Exists:
    """On a BMP queryset: the BMP is a member of an active jumelage."""
    return Exists(JumelageBMP.objects.filter(bmp=OuterRef("pk"), actif=True))


def demandes_en_attente(campagne: Campagne, now: datetime.datetime):
    """The campaign's requests that can still be answered: pending, before their deadline
    and before the closing, whether the expiry and closing sweeps have run or not."""
    if now >= instant_de_cloture(campagne):
        return Demande.objects.none()
    return Demande.objects.filter(campagne=campagne, etat=EtatDemande.EN_ATTENTE, echeance__gt=now)


def bmps_avec_etat(queryset=None):
    """Each BMP's state (EtatBMP) as the annotation `etat`, computed by the database."""
    queryset = BMP.objects.all() if queryset is None else queryset
    en_demande = Exists(
        Demande.objects.filter(Q(bmp=OuterRef("pk")) | Q(cible=OuterRef("pk")), etat=EtatDemande.EN_ATTENTE)
    )
    return queryset.annotate(
        etat=Case(
            When(actif=False, then=Value(EtatBMP.RETIRE)),
            When(dans_un_jumelage_actif(), then=Value(EtatBMP.JUMELE)),
            When(en_demande, then=Value(EtatBMP.DEMANDE)),
            default=Value(EtatBMP.LIBRE),
            output_field=models.CharField(),
        )
    )


def bmps_libres(queryset=None):
    """The free BMPs: current and active, in no active jumelage and in no pending request (as
    requester or as target). A rule of the workflow, so it lives here rather than on BMP's QuerySet
    (bmp sits below jumelages and never reads requests)."""
    queryset = BMP.objects.courants() if queryset is None else queryset.courants()
    return bmps_avec_etat(queryset).filter(etat=EtatBMP.LIBRE)
