from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Exploitation"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from common.security import debut_de_session

        user_logged_in.connect(debut_de_session, dispatch_uid="ops.debut_de_session")
