"""A jumelage as the heads' pages show it: its members, its total against the full time, who built
it, and its history (who did what and when, for which school or service)."""

from dataclasses import dataclass

from django.db.models import Q

from establishments.models import Etablissement
from jumelages.enums import OrigineJumelage, TypeEvenement
from jumelages.models import Evenement, Jumelage, format_heures

from .. import lectures


@dataclass
class Construction:
    """Who built a jumelage: my school, a partner, or a service (with its UAI)."""

    par: str  # "moi", "partenaire", "service"
    texte: str


@dataclass
class VueJumelage:
    jumelage: Jumelage
    membres: list  # JumelageBMP with bmp and etablissement
    construction: Construction | None = None

    @property
    def cible(self) -> int:
        return self.jumelage.discipline.heures_temps_plein

    @property
    def total(self) -> str:
        return format_heures(self.jumelage.total_heures)

    @property
    def complet(self) -> bool:
        return len(self.membres) >= 3

    @property
    def ecart(self) -> str:
        ecart = self.jumelage.total_heures - self.cible
        if ecart == 0:
            return "temps plein atteint"
        if ecart > 0:
            return f"{format_heures(ecart)} au-dessus du temps plein"
        return f"{format_heures(-ecart)} sous le temps plein"


def _built_by(jumelage: Jumelage, evenement: Evenement | None, etablissement: Etablissement) -> Construction:
    """Who built the jumelage, seen from `etablissement`, from the first event that made it."""
    if evenement is None:
        return Construction("service", "un service de gestion des moyens")
    if evenement.type == TypeEvenement.JUMELAGE_CREE or jumelage.origine == OrigineJumelage.SERVICE:
        if evenement.pour_service_id:
            service = evenement.pour_service
            return Construction("service", f"le service {service.nom} ({service.uai})")
        return Construction("service", "l'administration de JUMO")
    demandeur = evenement.demande.bmp.etablissement if evenement.demande_id else evenement.pour_etablissement
    if demandeur is not None and demandeur.pk == etablissement.pk:
        return Construction("moi", f"mon établissement, {demandeur.nom} ({demandeur.uai}), par une demande acceptée")
    if demandeur is not None:
        return Construction("partenaire", f"un partenaire, {demandeur.nom} ({demandeur.uai}), par une demande acceptée")
    return Construction("partenaire", "un partenaire")


def vues_jumelages(jumelage_ids, etablissement: Etablissement, construction=True) -> dict[int, VueJumelage]:
    """The jumelages with their active members and who built them: two queries (one without
    `construction`; none without jumelage)."""
    jumelage_ids = sorted(set(jumelage_ids))
    if not jumelage_ids:
        return {}
    vues = {}
    for a in lectures.membres(jumelage_ids):
        vues.setdefault(a.jumelage_id, VueJumelage(a.jumelage, [])).membres.append(a)
    if construction:
        premiers = lectures.premiers_evenements(jumelage_ids)
        for pk, vue in vues.items():
            vue.construction = _built_by(vue.jumelage, premiers.get(pk), etablissement)
    return vues


def etablissements_du_jumelage(jumelage: Jumelage) -> set[int]:
    """Every school that has been in the jumelage (its history stays visible to them)."""
    return set(jumelage.appartenances.values_list("etablissement_id", flat=True))


def jumelage_detail(pk: int, etablissement: Etablissement) -> VueJumelage:
    jumelage = Jumelage.objects.select_related("discipline", "rattachement", "campagne", "supprime_par").get(pk=pk)
    vue = vues_jumelages([pk], etablissement).get(pk) or VueJumelage(jumelage, [])
    vue.jumelage = jumelage
    if not vue.membres:  # deleted: show who was in it
        vue.membres = list(jumelage.appartenances.select_related("bmp", "etablissement__commune").order_by("position"))
    return vue


def historique(jumelage: Jumelage) -> list[Evenement]:
    """Who did what and when, for which school or service: the jumelage's events and its requests'."""
    return list(
        Evenement.objects.filter(
            Q(jumelage=jumelage) | Q(demande__jumelage=jumelage) | Q(demande__cible_jumelage=jumelage)
        )
        .select_related("auteur", "pour_etablissement", "pour_service", "demande__bmp__etablissement")
        .distinct()
        .order_by("date", "pk")
    )
