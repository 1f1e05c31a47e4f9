"""The partner search reads the schools within a box of latitude and longitude (web.recherche)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("establishments", "0003_departements_services")]

    operations = [
        migrations.AddIndex(
            model_name="etablissement",
            index=models.Index(fields=["latitude", "longitude"], name="etablissement_position"),
        ),
    ]
