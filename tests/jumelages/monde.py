"""A small académie for the workflow's tests: four collèges of the 94, one of the 93, one lycée."""

import datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from bmp.models import Campagne
from establishments.enums import TypeEtablissement
from establishments.models import Departement, Service
from jumelages.models import Demande, Jumelage, JumelageBMP
from tests.factories import (
    BMPFactory,
    CommuneFactory,
    DisciplineFactory,
    EtablissementFactory,
    UserFactory,
    agent_of,
    head_of,
)

PARIS = ZoneInfo("Europe/Paris")


def paris(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=PARIS)


# One instant inside each phase of the 2024 campaign.
PREPARATION = paris(2024, 6, 10, 12, 0)
OUVERTE = paris(2024, 6, 20, 12, 0)
VALIDATION = paris(2024, 6, 27, 12, 0)
CONSULTATION = paris(2024, 7, 15, 12, 0)
ARCHIVEE = paris(2024, 9, 10, 12, 0)

SERVICES = [
    ("0779999A", "DSDEN 77", "COLLEGES", "77"),
    ("0939999N", "DSDEN 93", "COLLEGES", "93"),
    ("0949999H", "DSDEN 94", "COLLEGES", "94"),
    ("0941295X", "Rectorat", "LYCEES", None),
]


def ensure_services():
    """The migration creates them; a transactional test elsewhere may have flushed them."""
    for code, nom in [("77", "Seine-et-Marne"), ("93", "Seine-Saint-Denis"), ("94", "Val-de-Marne")]:
        Departement.objects.get_or_create(code=code, defaults={"nom": nom})
    for uai, nom, perimetre, departement in SERVICES:
        Service.objects.get_or_create(
            uai=uai,
            defaults={
                "nom": nom,
                "perimetre": perimetre,
                "departement": Departement.objects.filter(code=departement).first(),
            },
        )


def build_monde(campagne: Campagne) -> SimpleNamespace:
    """Schools A, B, C, D (collèges 94), E (collège 93), L (lycée 94), their heads, the agents, BMPs."""
    ensure_services()
    w = SimpleNamespace(campagne=campagne)
    w.maths = DisciplineFactory(code="L1300", libelle="MATHEMATIQUES", heures_temps_plein=18)
    w.eps = DisciplineFactory(code="L1900", libelle="EPS", heures_temps_plein=20)
    commune94 = CommuneFactory(code_insee="94028", departement=Departement.objects.get(code="94"))
    commune93 = CommuneFactory(code_insee="93048", departement=Departement.objects.get(code="93"))
    for name in "ABCD":
        setattr(w, name, EtablissementFactory(nom=f"Collège {name}", commune=commune94))
    w.E = EtablissementFactory(nom="Collège E", commune=commune93)
    w.L = EtablissementFactory(nom="Lycée L", commune=commune94, type=TypeEtablissement.LGT)
    for name in "ABCDEL":
        setattr(w, f"head_{name.lower()}", head_of(getattr(w, name), first_name="Chef", last_name=name))
    w.agent94 = agent_of("0949999H", first_name="Agent", last_name="Quatre-vingt-quatorze")
    w.agent93 = agent_of("0939999N", first_name="Agent", last_name="Quatre-vingt-treize")
    w.rectorat = agent_of("0941295X", first_name="Agent", last_name="Rectorat")
    w.superuser = UserFactory(is_superuser=True, is_staff=True, first_name="Super", last_name="Admin")
    w.bmp_a = BMPFactory(campagne=campagne, etablissement=w.A, discipline=w.maths, heures=Decimal("9"))
    w.bmp_b = BMPFactory(campagne=campagne, etablissement=w.B, discipline=w.maths, heures=Decimal("10"))
    w.bmp_c = BMPFactory(campagne=campagne, etablissement=w.C, discipline=w.maths, heures=Decimal("6"))
    w.bmp_d = BMPFactory(campagne=campagne, etablissement=w.D, discipline=w.maths, heures=Decimal("7"))
    w.bmp_e = BMPFactory(campagne=campagne, etablissement=w.E, discipline=w.maths, heures=Decimal("5"))
    w.bmp_l = BMPFactory(campagne=campagne, etablissement=w.L, discipline=w.maths, heures=Decimal("8"))
    return w


def pending(bmp, cible=None, *, jumelage=None, envoyee_le=OUVERTE, trois=False, rang=1) -> Demande:
    """A pending request written directly (whatever the phase), as if sent at `envoyee_le`."""
    return Demande.objects.create(
        campagne=bmp.campagne,
        bmp=bmp,
        cible=cible,
        cible_jumelage=jumelage,
        trois=trois,
        rang=rang,
        envoyee_le=envoyee_le,
        echeance=envoyee_le + datetime.timedelta(hours=72),
    )


def jumelage_direct(*bmps, origine="service") -> Jumelage:
    """An active jumelage written directly, bypassing the services (to set up odd states)."""
    jumelage = Jumelage.objects.create(
        campagne=bmps[0].campagne,
        discipline=bmps[0].discipline,
        origine=origine,
        rattachement=bmps[0].etablissement,
        total_heures=sum(b.heures for b in bmps),
    )
    for position, bmp in enumerate(bmps, start=1):
        JumelageBMP.objects.create(jumelage=jumelage, bmp=bmp, etablissement=bmp.etablissement, position=position)
    return jumelage


def etat(demande) -> str:
    demande.refresh_from_db()
    return demande.etat
