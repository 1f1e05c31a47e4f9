"""Importing the référentiel from public open data (FORMATS.md "Reference data").

Every import follows the shared rules of FORMATS.md: the whole file is validated first
and every error is reported in French with its line, column and value (nothing is
written if there is one); then everything is written in one transaction, with bulk
queries (their number does not grow with the file). An import never deletes anything:
files are partial by nature, and BMPs and jumelages point at schools, communes and
disciplines. Importing the same file twice changes nothing the second time, and the
result says so.

One module per importer (communes, disciplines, zones, etablissements), what they share
(shared), and the loading of the real data shipped with JUMO (reference_data).
"""

from .communes import import_communes
from .disciplines import DEFAULT_HEURES_TEMPS_PLEIN, import_disciplines
from .etablissements import FORMAT_ANNUAIRE, FORMAT_GEOLOC, FORMAT_IPS, import_etablissements
from .reference_data import NO_ZONES_MESSAGE, REFERENCE_FILES, ReferenceDataResult, load_reference_data
from .shared import (
    SKIP_FERME_INCONNU,
    SKIP_HORS_ACADEMIE,
    SKIP_MINISTERE,
    SKIP_PREMIER_DEGRE,
    SKIP_PRIVE,
    SKIP_TYPE,
    Change,
    ImportResult,
    normalize_departement_code,
    read_file,
    rejection_message,
)
from .zones import import_zones

__all__ = [
    "DEFAULT_HEURES_TEMPS_PLEIN",
    "FORMAT_ANNUAIRE",
    "FORMAT_GEOLOC",
    "FORMAT_IPS",
    "NO_ZONES_MESSAGE",
    "REFERENCE_FILES",
    "SKIP_FERME_INCONNU",
    "SKIP_HORS_ACADEMIE",
    "SKIP_MINISTERE",
    "SKIP_PREMIER_DEGRE",
    "SKIP_PRIVE",
    "SKIP_TYPE",
    "Change",
    "ImportResult",
    "ReferenceDataResult",
    "import_communes",
    "import_disciplines",
    "import_etablissements",
    "import_zones",
    "load_reference_data",
    "normalize_departement_code",
    "read_file",
    "rejection_message",
]
