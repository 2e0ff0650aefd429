"""The feeds file and feed URL arguments: entries become FeedSpecs; a bad entry is refused, naming it."""

from __future__ import annotations

import pytest

from newsetl.flows.feedlist import FeedListError, feed_spec, feeds_from_urls, read_feed_file
from newsetl.flows.settings import BUNDLED_FEEDS


def _feeds_file(tmp_path, body: str):
    path = tmp_path / "feeds.yaml"
    path.write_text(body)
    return path


def test_entries_are_mappings_or_bare_urls_and_a_feed_listed_twice_is_polled_once(tmp_path) -> None:
    path = _feeds_file(
        tmp_path,
        "feeds:\n"
        "  - url: ' https://www.example.org/world.rss'\n"
        "    source: Example\n"
        "  - https://example.net/rss\n"
        "  - url: https://www.example.org/world.rss\n"
        "  - url: https://example.com/feed\n"
        "    source:\n",
    )
    specs = read_feed_file(path)
    assert [(spec.url, spec.source, spec.source_domain) for spec in specs] == [
        ("https://www.example.org/world.rss", "Example", "example.org"),
        ("https://example.net/rss", None, None),
        ("https://example.com/feed", None, None),
    ]


def test_a_bare_list_is_a_feeds_file_too(tmp_path) -> None:
    path = _feeds_file(tmp_path, "- https://example.net/rss\n")
    assert [spec.url for spec in read_feed_file(path)] == ["https://example.net/rss"]


def test_the_bundled_feeds_file_reads() -> None:
    specs = read_feed_file(BUNDLED_FEEDS)
    assert specs and all(spec.url.startswith("https://") and spec.source for spec in specs)


def test_every_bad_entry_is_named_by_its_number_and_field_with_what_is_wrong(tmp_path) -> None:
    path = _feeds_file(
        tmp_path,
        "feeds:\n"
        "  - url: https://ok.example/rss\n"
        "  - url: file:///etc/passwd\n"
        "  - 5\n"
        "  - url: https://x.example/rss\n"
        "    sorce: X\n"
        "  - source: Y\n"
        f"  - url: https://y.example/rss\n    source: {'z' * 201}\n",
    )
    with pytest.raises(FeedListError) as refused:
        read_feed_file(path)
    assert str(refused.value).splitlines() == [
        f"{path} entry 2 (url): 'file:///etc/passwd' is not a usable http(s) URL; write it in full, "
        "e.g. https://example.org/rss",
        f"{path} entry 3: 5 is neither a URL nor a mapping with url: and, optionally, source:",
        f"{path} entry 4: unknown key 'sorce'; the keys are url, source",
        f"{path} entry 5 (url): is missing",
        f"{path} entry 6 (source): '{'z' * 76}... is longer than 200 characters",
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [("feeds: none\n", "must hold a list under 'feeds:'"), ("feeds: [\n", "is not valid YAML")],
)
def test_a_file_that_is_no_list_of_feeds_is_refused(tmp_path, body, message) -> None:
    with pytest.raises(FeedListError, match=message):
        read_feed_file(_feeds_file(tmp_path, body))


def test_feed_url_arguments_are_checked_as_entries_are() -> None:
    assert [spec.url for spec in feeds_from_urls(["https://a.example/rss", "https://a.example/rss"])] == [
        "https://a.example/rss"
    ]
    with pytest.raises(
        FeedListError, match=r"^feed URL: 'ftp://a.example/rss' is not a usable http\(s\) URL"
    ):
        feeds_from_urls(["https://a.example/rss", "ftp://a.example/rss"])
    with pytest.raises(FeedListError, match=r"^--source: 'x+\.\.\. is longer than 200 characters$"):
        feed_spec("https://a.example/rss", "x" * 201)
    assert feed_spec("https://www.a.example/rss", "A").source_domain == "a.example"
