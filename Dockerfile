# JUMO's image: web (gunicorn), worker and beat (celery) run from it (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=jumo.settings.production

# pg_dump / pg_restore for bin/backup and bin/restore.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 --shell /usr/sbin/nologin jumo

WORKDIR /app
COPY requirements.lock .
RUN pip install -r requirements.lock

# The code belongs to root: the application cannot change it.
COPY . .
# Static files collected at build time (hashed, compressed), served by WhiteNoise. The key is a
# throwaway: collectstatic signs nothing, and it is not kept in the image.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput \
    && mkdir -p /srv/jumo/depot /srv/jumo/backups \
    && chown jumo:jumo /srv/jumo/depot /srv/jumo/backups

USER jumo
EXPOSE 8000
CMD ["gunicorn", "jumo.wsgi", "--config", "gunicorn.conf.py"]
