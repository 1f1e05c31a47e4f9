import pytest


@pytest.fixture
def at(time_machine):
    """Stop the clock at an instant (threads see the same clock)."""

    def move(instant):
        time_machine.move_to(instant, tick=False)
        return instant

    return move
