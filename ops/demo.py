"""The demo campaign: open today, BMPs spread over the real schools, and demo accounts.

Only the BMPs and the accounts are made up (a demo needs them); the schools, communes and
disciplines are the real reference data, which must be loaded first.
"""

import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from bmp.enums import Phase
from bmp.models import BMP, Campagne
from establishments.accounts import create_account
from establishments.enums import TYPES_LYCEE, TypeEtablissement
from establishments.models import Discipline, Etablissement, Service

DEMO_PASSWORD = "jumo-demo-2024"
# Disciplines de poste taught in each kind of school (no philosophy or SES in collège,
# no technology or music in lycée).
NOT_IN_COLLEGE = {"L0100", "L1100"}
NOT_IN_LYCEE = {"L1400", "L1700"}
HOURS = [Decimal(h) for h in ("2", "3", "4", "4.5", "5", "6", "7", "7.5", "8", "9", "10", "11", "12")]


class DemoError(Exception):
    pass


@dataclass
class DemoAccount:
    email: str
    role: str
    password: str = DEMO_PASSWORD


@dataclass
class DemoResult:
    campagne: Campagne
    created: bool
    bmps: int
    accounts: list[DemoAccount] = field(default_factory=list)
    jumelages: int = 0


def _open_campaign(today: datetime.date) -> tuple[Campagne, bool]:
    """Reuse a campaign open now, or create one for the next free rentrée year, open since yesterday."""
    now = timezone.now()
    for campagne in Campagne.objects.all():
        if campagne.phase_at(now) == Phase.OUVERTE:
            return campagne, False
    annee = today.year + 1 if today.month >= 9 else today.year
    taken = set(Campagne.objects.values_list("annee", flat=True))
    while annee in taken:
        annee += 1
    ouverture = today - datetime.timedelta(days=1)
    cloture = today + datetime.timedelta(days=8)
    return (
        Campagne.objects.create(
            annee=annee,
            date_ouverture=ouverture,
            date_cloture=cloture,
            date_fin_validation=cloture + datetime.timedelta(days=2),
            date_debut_consultation=cloture + datetime.timedelta(days=5),
            date_fin_consultation=cloture + datetime.timedelta(days=65),
        ),
        True,
    )


def _demo_schools() -> tuple[Etablissement, Etablissement, Etablissement]:
    """A collège, and a collège + lycée of one commune standing for a cité scolaire (real schools)."""
    commune = (
        Etablissement.objects.filter(ouvert=True)
        .values("commune")
        .annotate(
            colleges=Count("id", filter=Q(type=TypeEtablissement.COLLEGE)),
            lycees=Count("id", filter=Q(type__in=TYPES_LYCEE)),
        )
        .filter(colleges__gt=0, lycees__gt=0)
        .order_by("commune__code_insee")
        .values_list("commune", flat=True)
        .first()
    )
    college = (
        Etablissement.objects.filter(type=TypeEtablissement.COLLEGE, ouvert=True, departement__code="94")
        .exclude(commune_id=commune)
        .order_by("uai")
        .first()
    )
    if college is None or commune is None:
        raise DemoError("Chargez d'abord le référentiel réel : python manage.py load_reference_data")
    base = Etablissement.objects.filter(commune_id=commune, ouvert=True).order_by("uai")
    return college, base.filter(type=TypeEtablissement.COLLEGE).first(), base.filter(type__in=TYPES_LYCEE).first()


def _bmps(campagne: Campagne, pinned: dict[int, list[tuple[str, Decimal]]]) -> list[BMP]:
    rng = random.Random(campagne.annee)
    disciplines = {d.code: d for d in Discipline.objects.all()}
    if not disciplines:
        raise DemoError("Aucune discipline : chargez d'abord le référentiel réel (load_reference_data).")
    rows = []
    for school in Etablissement.objects.filter(ouvert=True).order_by("uai"):
        excluded = NOT_IN_LYCEE if school.type in TYPES_LYCEE else NOT_IN_COLLEGE
        codes = sorted(c for c in disciplines if c not in excluded)
        wanted = pinned.get(school.pk)
        if wanted is None:
            count = rng.choices([0, 1, 2, 3], weights=[3, 4, 2, 1])[0]
            wanted = [(code, rng.choice(HOURS)) for code in rng.sample(codes, count)]
        for code, hours in wanted:
            rows.append(
                BMP(
                    campagne=campagne,
                    etablissement=school,
                    discipline=disciplines[code],
                    heures=hours,
                    identifiant=f"DEMO-{campagne.annee}-{len(rows) + 1:06d}",
                )
            )
    return BMP.objects.bulk_create(rows, batch_size=2000)


@transaction.atomic
def seed_demo(today: datetime.date | None = None) -> DemoResult:
    """Make (or reuse) a demo campaign open now, with BMPs and demo accounts."""
    today = today or timezone.localdate()
    college, cite_college, cite_lycee = _demo_schools()
    campagne, created = _open_campaign(today)
    bmps = campagne.bmps.count()
    if not bmps:
        pinned = {
            college.pk: [("L1300", Decimal("7")), ("L0422", Decimal("9")), ("L1800", Decimal("6"))],
            cite_college.pk: [("L1300", Decimal("8")), ("L1900", Decimal("10"))],
            cite_lycee.pk: [("L1300", Decimal("6")), ("L0100", Decimal("9"))],
        }
        bmps = len(_bmps(campagne, pinned))
    accounts = [
        (DemoAccount("chef.college@jumo.test", f"chef d'établissement, {college}"), {"uais": [college.uai]}),
        (
            DemoAccount("chef.cite@jumo.test", f"chef d'une cité scolaire : {cite_college} et {cite_lycee}"),
            {"uais": [cite_college.uai, cite_lycee.uai]},
        ),
    ]
    for service in Service.objects.order_by("uai"):
        login = service.nom.lower().replace(" ", "")
        accounts.append((DemoAccount(f"{login}@jumo.test", f"agent, {service}"), {"service_uai": service.uai}))
    result = DemoResult(campagne=campagne, created=created, bmps=bmps)
    agents = {}
    for account, kwargs in accounts:
        compte = create_account(
            account.email, password=DEMO_PASSWORD, prenom="Démo", nom=account.email.split("@")[0], **kwargs
        )
        result.accounts.append(account)
        if "service_uai" in kwargs:
            agents[kwargs["service_uai"]] = compte.user
    if not campagne.jumelages.exists():
        demo_heads = {college.pk, cite_college.pk, cite_lycee.pk}
        result.jumelages = _jumelages_des_services(campagne, agents, exclus=demo_heads)
    return result


def _jumelages_des_services(campagne: Campagne, agents: dict, exclus: set, par_service: int = 2) -> int:
    """A few jumelages built by each service through the workflow (history, mails), so that the
    dashboard and the admin have something to show: in each perimeter, the nearest pairs of free
    BMPs of one discipline, none of the demo heads' schools."""
    from jumelages.geographie import distance_entre
    from jumelages.services import WorkflowError, build_jumelage

    faits = 0
    for service in Service.objects.filter(uai__in=agents).order_by("uai"):
        libres = list(
            BMP.objects.filter(campagne=campagne, actif=True)
            .filter(service.etablissements_q("etablissement__"))
            .exclude(etablissement_id__in=exclus)
            .exclude(etablissement__latitude__isnull=True)
            .select_related("etablissement")
            .order_by("discipline_id", "etablissement__uai", "pk")
        )
        paires = []
        for i, a in enumerate(libres):
            for b in libres[i + 1 :]:
                if b.discipline_id != a.discipline_id:
                    break
                if b.etablissement_id != a.etablissement_id:
                    paires.append((distance_entre(a.etablissement, b.etablissement), a.pk, b.pk))
        pris: set[int] = set()
        construits = 0
        for _distance, a, b in sorted(paires):
            if construits == par_service:
                break
            if a in pris or b in pris:
                continue
            try:
                build_jumelage(agents[service.uai], [a, b])
            except WorkflowError:
                continue
            pris |= {a, b}
            construits += 1
        faits += construits
    return faits
