"""What load/ gives back: the counts of one loaded batch. What it is handed are transform's records."""

from __future__ import annotations

from dataclasses import dataclass

from newsetl.transform.records import Outcome


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """What one loaded batch added."""

    articles_new: int = 0
    articles_failed: int = 0
    entities_tagged: int = 0
    topics_tagged: int = 0
    articles_stored_elsewhere: int = 0  # ok here, but a concurrent run had stored the article already
    articles_deferred: int = 0  # not requested: the host asked us to wait, or its run budget was spent
    articles_refused: int = 0  # the database refused the row; stored as load_error instead
    outcomes: tuple[tuple[Outcome, int], ...] = ()  # page outcomes as stored, load_error included
