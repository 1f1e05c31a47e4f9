"""The current campaign as the heads' pages show it: its phase, whether a school may act, and the
banner of every page with the calendar. The phases a school may act in are the workflow's own
table (jumelages.services), never written again here."""

import datetime
from dataclasses import dataclass

from django.utils import timezone

from bmp.enums import Phase
from bmp.models import Campagne
from common.formats import format_jour
from jumelages.services import DEMANDE, ETABLISSEMENT, PHASES_PERMISES, format_instant, refus_de_phase

PHASES_D_ACTION = PHASES_PERMISES[(ETABLISSEMENT, DEMANDE)]

DESCRIPTION_PHASE = {
    Phase.PREPARATION: "Les services de gestion des moyens préparent les jumelages ; "
    "les établissements ne peuvent pas encore agir.",
    Phase.OUVERTE: "Les établissements adressent, acceptent, refusent et annulent des demandes, "
    "et peuvent supprimer un jumelage (avec un motif).",
    Phase.VALIDATION: "Les services valident les jumelages : consultation seule pour les établissements.",
    Phase.CONSULTATION: "Consultation seule : vos jumelages et vos établissements partenaires.",
    Phase.ARCHIVEE: "La campagne est archivée.",
}


def actions_ouvertes(campagne: Campagne | None, instant=None) -> bool:
    """Whether a school may act now: the workflow's own table of phases (jumelages.services)."""
    return campagne is not None and campagne.phase_at(instant or timezone.now()) in PHASES_D_ACTION


def acces_refuse(campagne: Campagne | None) -> str:
    """The sentence saying a school no longer sees this campaign, or "": once archivée, a campaign is
    closed to the schools (our decision; the DOS keeps reading it)."""
    if campagne is None or campagne.phase_at(timezone.now()) != Phase.ARCHIVEE:
        return ""
    return refus_de_phase(campagne, Phase.ARCHIVEE, ETABLISSEMENT, DEMANDE)


@dataclass
class Bandeau:
    campagne: Campagne
    phase: Phase
    description: str
    fin: datetime.datetime | None
    fin_texte: str
    actions: bool
    calendrier: list


def bandeau(campagne: Campagne | None) -> Bandeau | None:
    """The campaign's phase and dates, shown on every page."""
    if campagne is None:
        return None
    now = timezone.now()
    phase = campagne.phase_at(now)
    fin = campagne.phase_end(now)
    calendrier = [
        (
            "Ouverture aux établissements",
            f"du {format_jour(campagne.date_ouverture)} au {format_jour(campagne.date_cloture)}",
        ),
        (
            "Validation par les services",
            f"du {format_jour(campagne.date_cloture + datetime.timedelta(days=1))} "
            f"au {format_jour(campagne.date_fin_validation)}",
        ),
        (
            "Consultation",
            f"du {format_jour(campagne.date_debut_consultation)} au {format_jour(campagne.date_fin_consultation)}",
        ),
    ]
    return Bandeau(
        campagne=campagne,
        phase=phase,
        description=DESCRIPTION_PHASE[phase],
        fin=fin,
        fin_texte=format_instant(fin) if fin else "",
        actions=phase in PHASES_D_ACTION,
        calendrier=calendrier,
    )


def temps_restant(echeance: datetime.datetime, instant=None) -> str:
    """« 2 j 5 h », « 3 h 20 min », « moins d'une minute », or « échue »."""
    reste = echeance - (instant or timezone.now())
    if reste <= datetime.timedelta(0):
        return "échue"
    minutes = int(reste.total_seconds() // 60)
    jours, minutes = divmod(minutes, 24 * 60)
    heures, minutes = divmod(minutes, 60)
    if jours:
        return f"{jours} j {heures} h"
    if heures:
        return f"{heures} h {minutes:02d} min"
    return f"{minutes} min" if minutes else "moins d'une minute"
