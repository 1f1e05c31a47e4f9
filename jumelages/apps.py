from django.apps import AppConfig


class JumelagesConfig(AppConfig):
    name = "jumelages"
    verbose_name = "Jumelages"

    def ready(self):
        from bmp.signals import bmps_refreshed

        from .receivers import on_bmps_refreshed

        bmps_refreshed.connect(on_bmps_refreshed, dispatch_uid="jumelages.on_bmps_refreshed")
