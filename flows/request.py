"""What one ingest run is asked to do, checked before anything starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsetl.flows.feedlist import feeds_from_urls, read_feed_file
from newsetl.flows.settings import Settings
from newsetl.load.registry import Shard
from newsetl.transform.errors import ConfigError
from newsetl.transform.records import FeedSpec


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Ad-hoc feeds (URLs given to this run), or the registry: the feeds file synced, and hand-added feeds."""

    specs: tuple[FeedSpec, ...]
    adhoc: bool
    limit: int | None
    due_only: bool
    shard: Shard | None

    @classmethod
    def build(
        cls,
        settings: Settings,
        feed_urls: list[str] | None,
        feeds_file: str | None,
        limit: int | None,
        due_only: bool,
        shard: str | None,
    ) -> RunRequest:
        """Raises a ConfigError (a FeedListError, or a message naming the parameter) for anything unusable."""
        if limit is not None and limit < 0:
            raise ConfigError(f"limit={limit}: must be 0 or more")
        parsed_shard = Shard.parse(shard) if shard else None
        if feed_urls:
            return cls(tuple(feeds_from_urls(feed_urls)), True, limit, due_only, parsed_shard)
        specs = read_feed_file(Path(feeds_file) if feeds_file else settings.feeds_file)
        return cls(tuple(specs), False, limit, due_only, parsed_shard)

    @property
    def lock_name(self) -> str | None:
        """Registry runs of one shard never overlap; ad-hoc runs of a few URLs need no lock."""
        return None if self.adhoc else f"ingest:{self.shard or '0/1'}"

    def parameters(self, feeds_file: str | None) -> dict[str, object]:
        return {
            "feeds": len(self.specs),
            "feed_urls": [spec.url for spec in self.specs] if self.adhoc else None,
            "feeds_file": feeds_file,
            "limit": self.limit,
            "due_only": self.due_only,
            "shard": str(self.shard) if self.shard else None,
        }
