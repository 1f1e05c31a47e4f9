"""The database tables that the hand-written SQL of the heads' pages reads (web.lectures,
web.recherche, web.context_processors), named once: `<MODEL>_TABLE`, from the models' own metadata."""

from dsfr.models import DsfrConfig

from bmp.models import BMP, Campagne
from establishments.models import Commune, Discipline, Etablissement, Profil, Service, ZoneRemplacement
from jumelages.models import Demande, Evenement, Jumelage, JumelageBMP
from notifications.models import Notification

BMP_TABLE = BMP._meta.db_table
CAMPAGNE_TABLE = Campagne._meta.db_table
COMMUNE_TABLE = Commune._meta.db_table
DEMANDE_TABLE = Demande._meta.db_table
DISCIPLINE_TABLE = Discipline._meta.db_table
DSFR_CONFIG_TABLE = DsfrConfig._meta.db_table
ETABLISSEMENT_TABLE = Etablissement._meta.db_table
EVENEMENT_TABLE = Evenement._meta.db_table
JUMELAGE_TABLE = Jumelage._meta.db_table
JUMELAGE_BMP_TABLE = JumelageBMP._meta.db_table
NOTIFICATION_TABLE = Notification._meta.db_table
PROFIL_TABLE = Profil._meta.db_table
PROFIL_ETABLISSEMENT_TABLE = Profil.etablissements.through._meta.db_table
SERVICE_TABLE = Service._meta.db_table
ZONE_TABLE = ZoneRemplacement._meta.db_table
ZONE_COMMUNE_TABLE = ZoneRemplacement.communes.through._meta.db_table
