from django.apps import AppConfig


class JumelagesConfig(AppConfig):
    name = "jumelages"
    verbose_name = "Jumelages"
