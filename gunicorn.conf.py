"""gunicorn's settings (Dockerfile, docker-compose.yml); each can be changed by the environment."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# WEB_CONCURRENCY is also gunicorn's own variable: processes, each with GUNICORN_THREADS threads.
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (a slow leak never grows for weeks).
max_requests = 2000
max_requests_jitter = 200
# Only the reverse proxy reaches the container: its X-Forwarded-* headers are trusted.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
accesslog = "-"
errorlog = "-"
worker_tmp_dir = "/dev/shm"
