"""Tests: the same settings, with fast password hashing and mails kept in memory.

A test's Celery worker is started with EMAIL_URL (a real SMTP server on loopback): it keeps
that backend. The variable is read from the process environment before base.py loads .env,
so that a developer's .env never sends the test suite's mails.
"""

import os

_EMAIL_URL_GIVEN = bool(os.environ.get("EMAIL_URL"))

from .base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if not _EMAIL_URL_GIVEN:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
