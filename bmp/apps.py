from django.apps import AppConfig


class BmpConfig(AppConfig):
    name = "bmp"
    verbose_name = "Campagnes et BMP"
