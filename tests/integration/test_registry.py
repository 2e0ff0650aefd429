"""The feed registry on both databases: file sync, hand-added feeds, due feeds and stable shards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from newsetl.load import registry
from newsetl.load.models import Feed
from newsetl.load.store import upsert_feeds
from newsetl.transform.errors import ConfigError
from newsetl.transform.records import FeedSpec
from newsetl.transform.urls import url_key

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _spec(name: str) -> FeedSpec:
    url = f"https://{name}.example/rss"
    return FeedSpec(url, url_key(url), name.title(), f"{name}.example")


def _polled_urls(session: Session, due_only: bool = False, shard: registry.Shard | None = None) -> list[str]:
    with session.begin():
        return sorted(f.url for f in registry.feeds_to_poll(session, NOW, due_only, shard))


def test_file_edits_take_effect_on_the_next_sync(session) -> None:
    with session.begin():
        first = registry.sync_feed_file(session, [_spec("a"), _spec("b")])
    with session.begin():
        second = registry.sync_feed_file(session, [_spec("b"), _spec("c")])
    assert (first.added, second.added, second.unlisted) == (2, 1, 1)
    assert _polled_urls(session) == ["https://b.example/rss", "https://c.example/rss"]
    with session.begin():
        third = registry.sync_feed_file(session, [_spec("a"), _spec("b"), _spec("c")])
    assert (third.added, third.reactivated) == (0, 1)
    assert len(_polled_urls(session)) == 3


def test_hand_added_feeds_survive_syncs_and_disabled_feeds_are_not_polled(session) -> None:
    with session.begin():
        registry.add_feed(session, _spec("manual"))
        registry.sync_feed_file(session, [_spec("a")])
        assert registry.set_status(session, _spec("a").url_key, registry.DISABLED)
        assert not registry.set_status(session, "no-such-key", registry.DISABLED)
        upsert_feeds(session, [_spec("adhoc")])  # one `newsetl run URL`: never scheduled
    assert _polled_urls(session) == ["https://manual.example/rss"]
    with session.begin():
        registry.sync_feed_file(session, [_spec("a")])  # a sync does not undo the user's disable
    assert _polled_urls(session) == ["https://manual.example/rss"]


def test_only_due_feeds_are_polled_when_asked(session) -> None:
    with session.begin():
        registry.sync_feed_file(session, [_spec("a"), _spec("b"), _spec("c")])
        session.execute(
            update(Feed).where(Feed.url.contains("a.")).values(next_poll_at=NOW + timedelta(hours=1))
        )
        session.execute(
            update(Feed).where(Feed.url.contains("b.")).values(next_poll_at=NOW - timedelta(hours=1))
        )
    assert _polled_urls(session, due_only=True) == ["https://b.example/rss", "https://c.example/rss"]
    assert len(_polled_urls(session, due_only=False)) == 3


def test_shards_partition_the_feeds_exactly(session) -> None:
    specs = [_spec(f"outlet{i}") for i in range(40)]
    with session.begin():
        registry.sync_feed_file(session, specs)
    halves = [_polled_urls(session, shard=registry.Shard(i, 2)) for i in range(2)]
    assert sorted(halves[0] + halves[1]) == sorted(s.url for s in specs)
    assert not set(halves[0]) & set(halves[1]) and all(len(h) > 5 for h in halves)


@pytest.mark.parametrize("text", ["2/2", "-1/2", "1", "a/b", "0/0"])
def test_a_bad_shard_is_refused_with_the_rule(text) -> None:
    with pytest.raises(ConfigError, match="must be I/N"):
        registry.Shard.parse(text)
