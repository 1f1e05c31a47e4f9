"""Fixtures of the notification tests: the small académie of tests/jumelages/monde.py, and its mails."""

import email
from email import policy

import pytest
from django.core import mail


@pytest.fixture
def operation(django_capture_on_commit_callbacks):
    """Run a workflow call as a request would: its on_commit callbacks (the sends) run at the end.

    Returns (result, mails sent by this call); tasks run eagerly, mails land in the locmem outbox.
    """

    def run(call, *args, **kwargs):
        before = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            result = call(*args, **kwargs)
        return result, mail.outbox[before:]

    return run


def recipients(mails) -> list[str]:
    return sorted(address for m in mails for address in m.to)


def by_address(mails) -> dict:
    result = {}
    for m in mails:
        assert len(m.to) == 1, "one mail per school"
        assert m.to[0] not in result, f"two mails to {m.to[0]}"
        result[m.to[0]] = m
    return result


def parsed(message) -> email.message.EmailMessage:
    """The message as the SMTP server would receive it."""
    return email.message_from_bytes(message.message().as_bytes(), policy=policy.default)


def plain_text(message) -> str:
    return parsed(message).get_body(preferencelist=("plain",)).get_content()


def html_text(message) -> str:
    return parsed(message).get_body(preferencelist=("html",)).get_content()


@pytest.fixture
def broker(celery_broker):
    """celery_broker, with the app's connection pools made anew: the fixture closes them at its end,
    and a closed pool would refuse the next test's publishes ("Acquire on closed pool")."""
    from jumo.celery import app

    def new_pools():
        app._pool = None
        app.amqp._producer_pool = None

    new_pools()
    yield celery_broker
    new_pools()
