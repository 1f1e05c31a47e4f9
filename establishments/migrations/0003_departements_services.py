"""The académie's three départements and the four DOS services of DOMAIN.md."""

from django.db import migrations

DEPARTEMENTS = [("77", "Seine-et-Marne"), ("93", "Seine-Saint-Denis"), ("94", "Val-de-Marne")]
SERVICES = [
    ("0779999A", "DSDEN 77", "COLLEGES", "77"),
    ("0939999N", "DSDEN 93", "COLLEGES", "93"),
    ("0949999H", "DSDEN 94", "COLLEGES", "94"),
    ("0941295X", "Rectorat", "LYCEES", None),
]


def create(apps, schema_editor):
    Departement = apps.get_model("establishments", "Departement")
    Service = apps.get_model("establishments", "Service")
    by_code = {}
    for code, nom in DEPARTEMENTS:
        by_code[code], _ = Departement.objects.get_or_create(code=code, defaults={"nom": nom})
    for uai, nom, perimetre, departement in SERVICES:
        Service.objects.get_or_create(
            uai=uai,
            defaults={"nom": nom, "perimetre": perimetre, "departement": by_code.get(departement)},
        )


class Migration(migrations.Migration):
    dependencies = [("establishments", "0002_profil")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
