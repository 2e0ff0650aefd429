"""Integration fixtures: a session on a migrated database (each of SQLite and PostgreSQL), and two local
hosts for tests of what extract/ keeps per host: 127.0.0.1 and 127.0.0.2 are different hosts to the fetcher
(its politeness clock, breaker and Retry-After are per host name), both on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from newsetl.load.db import make_engine
from newsetl.load.migrate import upgrade
from newsetl.transform.tagging import Tagger, default_model_name, load_pipeline, load_taxonomy
from tests.localserver import LocalServer, serving


@pytest.fixture
def session(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture
def one() -> Iterator[LocalServer]:
    with serving("127.0.0.1", poll_interval=0.02) as running:
        yield running


@pytest.fixture
def two() -> Iterator[LocalServer]:
    with serving("127.0.0.2", poll_interval=0.02) as running:
        yield running


@pytest.fixture(scope="session")
def real_tagger() -> Tagger:
    """The tagger with the real default spaCy pipeline and the bundled taxonomy, loaded once for every test
    that tags with it (a Tagger keeps no state between calls to tag)."""
    return Tagger(load_pipeline(default_model_name()), load_taxonomy())
