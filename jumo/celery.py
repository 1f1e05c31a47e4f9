"""The Celery app: `celery -A jumo worker` and `celery -A jumo beat`.

Configuration comes from Django settings (namespace CELERY_), which read the
environment; with no CELERY_BROKER_URL, tasks run eagerly, inline.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jumo.settings.dev")

app = Celery("jumo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
