"""factory_boy factories shared by every test module."""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from bmp.models import BMP, Campagne
from establishments.enums import Position, TypeEtablissement
from establishments.models import Commune, Departement, Discipline, Etablissement, Profil, Service
from establishments.uai import uai_check_letter


def valid_uai(n: int, departement: str = "094") -> str:
    digits = f"{departement}{n:04d}"[-7:]
    return digits + uai_check_letter(digits)


class DepartementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Departement
        django_get_or_create = ("code",)

    code = "94"
    nom = "Val-de-Marne"


class CommuneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Commune
        django_get_or_create = ("code_insee",)

    code_insee = factory.Sequence(lambda n: f"94{n % 1000:03d}")
    nom = factory.Sequence(lambda n: f"Commune {n}")
    departement = factory.SubFactory(DepartementFactory)
    code_postal = "94000"
    latitude = 48.79
    longitude = 2.45


class EtablissementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Etablissement
        django_get_or_create = ("uai",)

    uai = factory.Sequence(lambda n: valid_uai(n + 1))
    nom = factory.Sequence(lambda n: f"Collège numéro {n}")
    type = TypeEtablissement.COLLEGE
    departement = factory.SelfAttribute("commune.departement")
    commune = factory.SubFactory(CommuneFactory)
    latitude = factory.SelfAttribute("commune.latitude")
    longitude = factory.SelfAttribute("commune.longitude")
    position = Position.EXACTE


class DisciplineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Discipline
        django_get_or_create = ("code",)

    code = "L1300"
    libelle = "MATHEMATIQUES"
    heures_temps_plein = 18


class CampagneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campagne
        django_get_or_create = ("annee",)

    annee = 2024
    date_ouverture = factory.LazyAttribute(lambda o: datetime.date(o.annee, 6, 17))
    date_cloture = factory.LazyAttribute(lambda o: datetime.date(o.annee, 6, 26))
    date_fin_validation = factory.LazyAttribute(lambda o: datetime.date(o.annee, 6, 28))
    date_debut_consultation = factory.LazyAttribute(lambda o: datetime.date(o.annee, 7, 1))
    date_fin_consultation = factory.LazyAttribute(lambda o: datetime.date(o.annee, 9, 1))


class BMPFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BMP

    campagne = factory.SubFactory(CampagneFactory)
    etablissement = factory.SubFactory(EtablissementFactory)
    discipline = factory.SubFactory(DisciplineFactory)
    heures = Decimal("9.00")
    identifiant = factory.Sequence(lambda n: f"BMP-TEST-{n:06d}")
    actif = True


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.org")
    email = factory.SelfAttribute("username")
    first_name = "Camille"
    last_name = "Martin"
    password = factory.django.Password("motdepasse-de-test")


def head_of(*etablissements, **kwargs):
    """A chef d'établissement acting for these schools."""
    user = UserFactory(**kwargs)
    profil, _ = Profil.objects.get_or_create(utilisateur=user)
    profil.etablissements.add(*etablissements)
    return user


def agent_of(service_uai: str, **kwargs):
    """A DOS agent of the service with this UAI (the services are created by a migration)."""
    user = UserFactory(**kwargs)
    Profil.objects.update_or_create(utilisateur=user, defaults={"service": Service.objects.get(uai=service_uai)})
    return user
