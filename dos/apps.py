from django.apps import AppConfig


class DosConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dos"
    verbose_name = "Espace des services (DOS)"
