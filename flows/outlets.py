"""Giving an outlet to the stored articles that have none: those stored before outlets existed.

Each ingest run does it first, in batches of one transaction each (a killed run leaves whole batches and
the next one carries on); a database where every article has its outlet costs one index probe.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from newsetl.load.outlets import OutletClaim, adopt, orphans
from newsetl.transform.urls import outlet_domain

ORPHAN_BATCH = 2000

Write = Callable[[Callable[[Session], Any], str], Any]


def adopt_orphans(write: Write) -> int:
    """Give every article without an outlet its outlet (`write` runs one transaction); how many got one."""
    adopted, after_id = 0, 0
    while True:
        found, last_id = write(partial(_adopt_batch, after_id=after_id), "giving articles an outlet")
        adopted += found
        if last_id is None:
            return adopted
        after_id = last_id


def _adopt_batch(session: Session, after_id: int) -> tuple[int, int | None]:
    batch = orphans(session, after_id, ORPHAN_BATCH)
    claims = [
        OutletClaim(o.article_id, o.named_source_id, outlet_domain(o.final_url or o.url)) for o in batch
    ]
    return adopt(session, claims), (batch[-1].article_id if batch else None)
