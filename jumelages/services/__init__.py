"""The workflow of requests and jumelages: every rule, every transaction and every lock.

Views, admin, tasks and commands call these functions; a refusal raises WorkflowError,
whose message is the French sentence the user sees. One module per use case:

- calendar: who acts, and when (the table of phases, `autoriser`), dates in French;
- events: recording Evenement rows in the operation's transaction, and announcing them;
- composition: a jumelage's members, total hours and établissement de rattachement;
- locks: the order of the locks, the retry, the state of the BMPs involved and the
  obstacles that make a request impossible;
- endings: ending pending requests in bulk (expirée, caduque);
- requests: send, accept, refuse, cancel a request;
- construction: build, examine, validate, re-attach and delete a jumelage;
- sweeps: the periodic expiry and closing;
- refresh: the effects of the nightly refresh of the BMPs.

This package re-exports the public names; import them from `jumelages.services`.
"""

from ..models import Demande, Jumelage, instant_de_cloture
from .calendar import (
    CONSTRUCTION,
    DEMANDE,
    ETABLISSEMENT,
    INTRODUCTION,
    MOIS,
    PHASES_PERMISES,
    RATTACHEMENT,
    RESERVE_AUX_SERVICES,
    SERVICE,
    SUPERUTILISATEUR,
    SUPPRESSION,
    VALIDATION,
    Acteur,
    autoriser,
    delai_reponse,
    format_instant,
    refus_de_phase,
    total_maximum,
)
from .construction import (
    Examen,
    build_jumelage,
    delete_jumelage,
    examine_jumelage,
    set_rattachement,
    validate_jumelage,
)
from .errors import WorkflowError
from .refresh import apply_refresh
from .requests import accept_request, cancel_request, refuse_request, send_request, valider_motif
from .sweeps import close_campaigns, expire_overdue

__all__ = [
    "CONSTRUCTION",
    "DEMANDE",
    "ETABLISSEMENT",
    "INTRODUCTION",
    "MOIS",
    "PHASES_PERMISES",
    "RATTACHEMENT",
    "RESERVE_AUX_SERVICES",
    "SERVICE",
    "SUPERUTILISATEUR",
    "SUPPRESSION",
    "VALIDATION",
    "Acteur",
    "Demande",
    "Examen",
    "Jumelage",
    "WorkflowError",
    "accept_request",
    "apply_refresh",
    "autoriser",
    "build_jumelage",
    "cancel_request",
    "close_campaigns",
    "delai_reponse",
    "delete_jumelage",
    "examine_jumelage",
    "expire_overdue",
    "format_instant",
    "instant_de_cloture",
    "refus_de_phase",
    "refuse_request",
    "send_request",
    "set_rattachement",
    "total_maximum",
    "valider_motif",
    "validate_jumelage",
]
