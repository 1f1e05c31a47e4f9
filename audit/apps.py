from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Journal de sécurité"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

        from . import receivers

        user_logged_in.connect(receivers.on_login, dispatch_uid="audit.on_login")
        user_login_failed.connect(receivers.on_login_failed, dispatch_uid="audit.on_login_failed")
        user_logged_out.connect(receivers.on_logout, dispatch_uid="audit.on_logout")
