"""The partner search reads the BMPs of one discipline in the schools near mine (web.recherche)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("bmp", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="bmp",
            index=models.Index(fields=["etablissement", "campagne", "discipline"], name="bmp_etab_campagne_disc"),
        ),
    ]
