import datetime
from zoneinfo import ZoneInfo

import pytest

from bmp.enums import Phase
from tests.factories import CampagneFactory

PARIS = ZoneInfo("Europe/Paris")


def at(*args):
    return datetime.datetime(*args, tzinfo=PARIS)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("instant", "phase"),
    [
        (at(2024, 6, 16, 23, 59, 59), Phase.PREPARATION),
        (at(2024, 6, 17, 0, 0), Phase.OUVERTE),
        (at(2024, 6, 26, 23, 59, 59), Phase.OUVERTE),
        (at(2024, 6, 27, 0, 0), Phase.VALIDATION),
        (at(2024, 6, 30, 12, 0), Phase.VALIDATION),  # 30 June stays in validation (our decision)
        (at(2024, 7, 1, 0, 0), Phase.CONSULTATION),
        (at(2024, 9, 1, 23, 59, 59), Phase.CONSULTATION),
        (at(2024, 9, 2, 0, 0), Phase.ARCHIVEE),
    ],
)
def test_phase_follows_the_2024_calendar_in_paris_time(instant, phase):
    assert CampagneFactory(annee=2024).phase_at(instant) == phase


@pytest.mark.django_db
def test_phase_boundary_is_paris_midnight_not_utc():
    campagne = CampagneFactory(annee=2024)
    # 16 June 22:30 UTC is already 17 June 00:30 in Paris (UTC+2 in summer).
    assert campagne.phase_at(datetime.datetime(2024, 6, 16, 22, 30, tzinfo=datetime.UTC)) == Phase.OUVERTE
    assert campagne.phase_at(datetime.datetime(2024, 6, 16, 21, 59, tzinfo=datetime.UTC)) == Phase.PREPARATION
