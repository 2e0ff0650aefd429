"""Commands about tags that run no flow: `newsetl topics explain`, `newsetl taggers list|prune`."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from newsetl.flows.settings import TaggingSetup
from newsetl.load.db import read_only
from newsetl.load.tags import find_stored_text, has_tagged, prune_taggers, stored_topics, tagger_versions
from newsetl.transform.errors import ConfigError
from newsetl.transform.tagging import build_tagger
from newsetl.transform.topics import TopicExplanation
from newsetl.transform.urls import resolve_link, url_key


class NoSuchArticle(ConfigError):
    """`topics explain` was given an id or URL the database has no article text for."""


def explain_article(engine: Engine, tagging: TaggingSetup, reference: str) -> str:
    """How the current tagger scores each topic on a stored article, beside what each stored version
    said: the terms that hit, where, and the arithmetic."""
    with Session(read_only(engine)) as session:
        article = find_stored_text(session, *_article_key(reference))
        if article is None:
            raise NoSuchArticle(
                f"no article with text for {reference!r}; give an article id or the URL it was listed "
                "under (SELECT id, url FROM articles shows them)"
            )
        stored = stored_topics(session, article.article_id)
    tagger = build_tagger(tagging.model, tagging.taxonomy_file, tagging.aliases_file)
    explanations = tagger.explain(article.title, article.text)
    lines = [f"article {article.article_id}: {article.title or '(no title)'}", f"tagger {tagger.name}", ""]
    lines += _explanation_lines(explanations)
    lines += _stored_lines(stored)
    return "\n".join(lines)


def _article_key(reference: str) -> tuple[int | None, str | None]:
    if reference.isdigit():
        return int(reference), None
    url = reference.strip()
    if resolve_link(url, url) != url:  # the check feeds get: an http(s) URL a key can be made for
        raise NoSuchArticle(f"{reference!r} is neither an article id nor a usable http(s) URL")
    return None, url_key(url)


def _explanation_lines(explanations: tuple[TopicExplanation, ...]) -> list[str]:
    if not explanations:
        return ["no topic term hit this article"]
    lines = []
    for explanation in explanations:
        verdict = "assigned" if explanation.passed else "not assigned"
        lines.append(
            f"{explanation.topic}: score {explanation.score:.3f}, threshold {explanation.threshold:.2f}"
            f" -> {verdict}"
        )
        lines += [f"  {line}" for line in explanation.lines]
    return lines


def _stored_lines(stored: list[tuple[str, str, float, bool]]) -> list[str]:
    if not stored:
        return ["", "stored: no topic rows for this article"]
    lines = ["", "stored topic rows:"]
    lines += [
        f"  {topic:<20} {score:.3f} {'passed' if passed else 'under threshold':<15} {tagger}"
        for tagger, topic, score, passed in stored
    ]
    return lines


def list_taggers(engine: Engine, current: str) -> str:
    with Session(read_only(engine)) as session:
        versions = tagger_versions(session)
    if not versions:
        return f"no tags stored yet; the current tagger is {current}"
    lines = [f"{'articles':>8} {'entity rows':>11} {'topic rows':>10}  {'last tagged (UTC)':<16}  tagger"]
    for row in versions:
        when = f"{row.last_tagged_at:%Y-%m-%d %H:%M}" if row.last_tagged_at else "-"
        mark = "  (current)" if row.tagger == current else ""
        lines.append(
            f"{row.articles:>8} {row.entity_rows:>11} {row.topic_rows:>10}  {when:<16}  {row.tagger}{mark}"
        )
    return "\n".join(lines)


def prune(engine: Engine, keep: str) -> str:
    with Session(engine) as session, session.begin():
        if not has_tagged(session, keep):
            raise ConfigError(
                f"no tags of version {keep!r} are stored, so pruning would delete every tag; "
                "`newsetl retag` first, or name a stored version (`newsetl taggers list`)"
            )
        deleted = prune_taggers(session, keep)
    return (
        "deleted " + ", ".join(f"{count} {table} rows" for table, count in deleted.items()) + f"; kept {keep}"
    )
