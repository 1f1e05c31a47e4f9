"""/healthz for the load balancer: JSON, 200 when every check passes, 503 otherwise."""

import datetime
import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bmp.enums import Phase
from bmp.models import Campagne, ImportRun

from .models import Heartbeat
from .tasks import BEAT


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def _broker() -> dict:
    url = settings.CELERY_BROKER_URL
    if not url:
        return {"ok": True, "detail": "pas de broker : tâches exécutées en ligne"}
    from celery import current_app as app

    with app.connection_for_write(url) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=settings.JUMO_HEALTH_TIMEOUT_SECONDES)
    return {"ok": True}


def _age(instant: datetime.datetime | None, now: datetime.datetime) -> int | None:
    return None if instant is None else int((now - instant).total_seconds())


def _beat(now) -> dict:
    vu_le = Heartbeat.objects.filter(nom=BEAT).values_list("vu_le", flat=True).first()
    age = _age(vu_le, now)
    limite = settings.JUMO_HEALTH_MAX_AGE_BEAT_SECONDES
    return {"ok": age is not None and age <= limite, "age_secondes": age, "limite_secondes": limite}


def _refresh(now) -> dict:
    """The nightly refresh runs only while a campaign is open: its age matters then, once the
    first night of the phase has passed."""
    limite = settings.JUMO_HEALTH_MAX_AGE_ACTUALISATION_SECONDES
    dernier = ImportRun.objects.order_by("-debut").values_list("debut", flat=True).first()
    age = _age(dernier, now)
    ouvertes = [c for c in Campagne.objects.all() if c.phase_at(now) == Phase.OUVERTE]
    attendue = any(_age(c.boundaries()[0][0], now) > limite for c in ouvertes)
    ok = not attendue or (age is not None and age <= limite)
    return {"ok": ok, "age_secondes": age, "limite_secondes": limite, "campagne_ouverte": bool(ouvertes)}


CHECKS = {
    "base_de_donnees": lambda now: _database(),
    "broker": lambda now: _broker(),
    "ordonnanceur": _beat,
    "actualisation": _refresh,
}


def run_checks(names=None) -> dict:
    """The checks named (all by default): {"statut", "heure", "controles": {name: {"ok", …}}}."""
    now = timezone.now()
    resultats = {}
    for nom in names or CHECKS:
        debut = time.monotonic()
        try:
            resultat = CHECKS[nom](now)
        except Exception as exc:  # a failed check is the answer, not an error page
            resultat = {"ok": False, "erreur": f"{type(exc).__name__}: {exc}"[:300]}
        resultat["duree_ms"] = round((time.monotonic() - debut) * 1000, 1)
        resultats[nom] = resultat
    ok = all(r["ok"] for r in resultats.values())
    return {"statut": "ok" if ok else "degrade", "heure": now.isoformat(), "controles": resultats}


@never_cache
@require_GET
def healthz(request):
    rapport = run_checks()
    return JsonResponse(
        rapport, status=200 if rapport["statut"] == "ok" else 503, json_dumps_params={"ensure_ascii": False}
    )
