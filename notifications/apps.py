from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from jumelages.signals import evenement_enregistre, evenements_enregistres

        # Registers the Celery tasks in every process, the web's included: the outbox queues
        # send_notifications by its name (services.SEND_TASK) rather than importing tasks.py.
        from . import tasks  # noqa: F401
        from .receivers import on_evenement_enregistre, on_evenements_enregistres

        evenement_enregistre.connect(on_evenement_enregistre, dispatch_uid="notifications.on_evenement_enregistre")
        evenements_enregistres.connect(
            on_evenements_enregistres, dispatch_uid="notifications.on_evenements_enregistres"
        )
