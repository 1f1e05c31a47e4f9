"""What the heads' pages read: the current campaign and its phase, my BMPs, the partner search,
the requests, a jumelage and its history. Read only: every change goes through jumelages.services,
whose rules (who may act, in which phase) are reused here, never written again.

One module per use case:
- campagne: the phase, whether a school may act, the banner of every page;
- mes_bmp: « Mes BMP », a school's BMPs with their state, jumelage and pending requests;
- partner_search: « Trouver un partenaire » and its map;
- demande: the requests received and sent, one request and its history;
- jumelage: a jumelage with its members, who built it, and its history.

Each function runs a fixed number of queries, whatever the number of schools and BMPs (the
partner search reads its list once more, longer, only when more than MARGE rows lie within the
spheres' error of a page's last distance). The hottest reads are SQL written once (web.lectures,
web.recherche) and run as prepared statements (web.db); the list of partners is filtered, ordered
and cut by the database.
"""

from .campagne import (
    DESCRIPTION_PHASE,
    PHASES_D_ACTION,
    Bandeau,
    acces_refuse,
    actions_ouvertes,
    bandeau,
    temps_restant,
)
from .demande import (
    PLAFOND_DEMANDES,
    demande_detail,
    demandes_de,
    etablissements_de_la_demande,
    historique_demande,
    peut_repondre,
)
from .jumelage import (
    Construction,
    VueJumelage,
    etablissements_du_jumelage,
    historique,
    jumelage_detail,
    vues_jumelages,
)
from .mes_bmp import (
    CLASSE_ETAT,
    DEMANDE_EN_COURS,
    JUMELE,
    LIBELLE_ETAT,
    LIBRE,
    RETIRE,
    Discipline,
    LigneBMP,
    mes_bmp,
)
from .partner_search import (
    AUTRE_ZONE,
    MARGE,
    MEME_ZONE,
    PAGE_MAX,
    PAR_CIBLE,
    PAR_DISTANCE,
    ZONE_COLORS,
    ZONE_INCONNUE,
    Candidat,
    PageCandidats,
    Recherche,
    candidat,
    carte,
    rechercher_partenaires,
    search_context,
)

__all__ = [
    "AUTRE_ZONE",
    "CLASSE_ETAT",
    "DEMANDE_EN_COURS",
    "DESCRIPTION_PHASE",
    "JUMELE",
    "LIBELLE_ETAT",
    "LIBRE",
    "MARGE",
    "MEME_ZONE",
    "PAGE_MAX",
    "PAR_CIBLE",
    "PAR_DISTANCE",
    "PHASES_D_ACTION",
    "PLAFOND_DEMANDES",
    "RETIRE",
    "ZONE_COLORS",
    "ZONE_INCONNUE",
    "Bandeau",
    "Candidat",
    "Construction",
    "Discipline",
    "LigneBMP",
    "PageCandidats",
    "Recherche",
    "VueJumelage",
    "acces_refuse",
    "actions_ouvertes",
    "bandeau",
    "candidat",
    "carte",
    "demande_detail",
    "demandes_de",
    "etablissements_de_la_demande",
    "etablissements_du_jumelage",
    "historique",
    "historique_demande",
    "jumelage_detail",
    "mes_bmp",
    "peut_repondre",
    "rechercher_partenaires",
    "search_context",
    "temps_restant",
    "vues_jumelages",
]
