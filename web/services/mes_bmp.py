"""« Mes BMP »: a school's BMPs of the campaign by discipline, each with its state (libre, demande en
cours, jumelé, retiré by the nightly refresh), its jumelage and its pending requests."""

from dataclasses import dataclass, field

from django.utils import timezone

from bmp.models import BMP, Campagne
from establishments.models import Etablissement
from jumelages.models import format_heures

from .. import lectures
from .campagne import temps_restant
from .jumelage import VueJumelage, vues_jumelages

LIBRE, DEMANDE_EN_COURS, JUMELE, RETIRE = "libre", "demande", "jumele", "retire"
LIBELLE_ETAT = {
    LIBRE: "Libre",
    DEMANDE_EN_COURS: "Demande en cours",
    JUMELE: "Jumelé",
    RETIRE: "Retiré par l'actualisation",
}
CLASSE_ETAT = {
    LIBRE: "fr-badge--info",
    DEMANDE_EN_COURS: "fr-badge--new",
    JUMELE: "fr-badge--success",
    RETIRE: "fr-badge--error",
}


@dataclass
class LigneBMP:
    bmp: BMP
    etat: str
    jumelage: VueJumelage | None = None
    envoyees: list = field(default_factory=list)
    recues: list = field(default_factory=list)

    @property
    def libelle_etat(self) -> str:
        return LIBELLE_ETAT[self.etat]

    @property
    def classe_etat(self) -> str:
        return CLASSE_ETAT[self.etat]

    @property
    def heures(self) -> str:
        return format_heures(self.bmp.heures)

    @property
    def peut_chercher(self) -> bool:
        """A free BMP, or one in a jumelage of two, may look for a partner."""
        return self.bmp.actif and (self.jumelage is None or not self.jumelage.complet)


@dataclass
class Discipline:
    discipline: object
    lignes: list


def mes_bmp(etablissement: Etablissement, campagne: Campagne) -> list[Discipline]:
    """The school's BMPs of the campaign by discipline, with their state, jumelage and pending
    requests: four queries at most (web.lectures)."""
    bmps = lectures.bmps_de(etablissement, campagne)
    ids = [b.pk for b in bmps]
    vues = vues_jumelages([b.jumelage_actif_id for b in bmps if b.jumelage_actif_id], etablissement)
    jumelage_de = {a.bmp_id: vue for vue in vues.values() for a in vue.membres}
    now = timezone.now()
    demandes = lectures.demandes_en_attente(ids, list(vues), now) if ids else []
    lignes = {}
    for b in bmps:
        vue = jumelage_de.get(b.pk)
        etat = RETIRE if not b.actif else JUMELE if vue else LIBRE
        lignes[b.pk] = LigneBMP(b, etat, vue)
    for d in demandes:
        if d.bmp_id in lignes:
            lignes[d.bmp_id].envoyees.append(d)
        recue_par = d.cible_id if d.cible_id in lignes else None
        if recue_par is None and d.cible_jumelage_id in vues:
            recue_par = next(a.bmp_id for a in vues[d.cible_jumelage_id].membres if a.bmp_id in lignes)
        if recue_par is not None and d.bmp_id not in lignes:
            lignes[recue_par].recues.append(d)
    for ligne in lignes.values():
        if ligne.etat == LIBRE and (ligne.envoyees or ligne.recues):
            ligne.etat = DEMANDE_EN_COURS
        for d in ligne.envoyees + ligne.recues:
            d.reste = temps_restant(d.echeance, now)
    par_discipline = {}
    for b in bmps:
        par_discipline.setdefault(b.discipline_id, Discipline(b.discipline, [])).lignes.append(lignes[b.pk])
    return list(par_discipline.values())
