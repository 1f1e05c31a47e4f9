"""Fixtures of the pages' tests: the small académie of tests/jumelages/monde.py, in the 2024 campaign."""

import pytest


@pytest.fixture(autouse=True)
def _no_tiles(settings):
    """Tiles are never fetched in tests: the pages must work without them."""
    settings.JUMO_TILE_URL = ""


@pytest.fixture
def head_a(client, w):
    client.force_login(w.head_a)
    return client
