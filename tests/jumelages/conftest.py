import pytest

from tests.factories import CampagneFactory

from .monde import OUVERTE, build_monde


@pytest.fixture
def campagne(db):
    return CampagneFactory(annee=2024)


@pytest.fixture
def w(campagne):
    """The small académie of tests/jumelages/monde.py, in the 2024 campaign."""
    return build_monde(campagne)


@pytest.fixture
def at(time_machine):
    """Stop the clock at an instant: at(OUVERTE), at(paris(2024, 6, 26, 23, 59))."""

    def move(instant):
        time_machine.move_to(instant, tick=False)
        return instant

    return move


@pytest.fixture
def ouverte(at):
    """The clock stopped on 20 June 2024 at noon, in the open phase."""
    return at(OUVERTE)
