"""Fixtures of the pages' tests: the small académie of tests/jumelages/monde.py, in the 2024 campaign."""

import pytest

from tests.factories import CampagneFactory
from tests.jumelages.monde import OUVERTE, build_monde


@pytest.fixture(autouse=True)
def _no_tiles(settings):
    """Tiles are never fetched in tests: the pages must work without them."""
    settings.JUMO_TILE_URL = ""


@pytest.fixture
def campagne(db):
    return CampagneFactory(annee=2024)


@pytest.fixture
def w(campagne):
    """Schools A, B, C, D (collèges 94), E (collège 93), L (lycée 94), their heads, agents and BMPs."""
    return build_monde(campagne)


@pytest.fixture
def at(time_machine):
    def move(instant):
        time_machine.move_to(instant, tick=False)
        return instant

    return move


@pytest.fixture
def ouverte(at):
    return at(OUVERTE)


@pytest.fixture
def head_a(client, w):
    client.force_login(w.head_a)
    return client
