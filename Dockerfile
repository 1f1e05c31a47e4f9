FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN DJANGO_SETTINGS_MODULE=jumo.settings.dev python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 jumo && mkdir -p /srv/jumo/depot && chown jumo /srv/jumo/depot
USER jumo
EXPOSE 8000
CMD ["gunicorn", "jumo.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
