from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Connexion ProConnect"

    def ready(self):
        from django.contrib.auth.signals import user_logged_out

        from .middleware import on_logout

        user_logged_out.connect(on_logout, dispatch_uid="sso.on_logout")
