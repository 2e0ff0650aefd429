"""Outlets (the `sources` table): every article has one, and one outlet holds each registrable domain.

An article's outlet is the named source of a feed that listed it (the feeds file's `source:`), else the
outlet of its own registrable domain, created on first sight and named after the domain ("example.com").
So an aggregator's feed spreads its articles over their own outlets, and a bare `newsetl run URL` still
gives every per-outlet count a row to land in.

A named outlet claims its feed's domain when no outlet holds it. When the domain's holder is an outlet
found from articles (still named after its domain), the name given later is its name: the outlet keeps its
articles. When a named outlet already holds it (two names given to feeds of one domain), the newcomer has
no domain: its feeds' articles are still its own, articles found elsewhere go to the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from newsetl.load import rollups
from newsetl.load.models import Article, Feed, FeedItem, Source
from newsetl.load.rows import as_stored, chunks, dialect_insert
from newsetl.transform.errors import ConfigError


@dataclass(frozen=True, slots=True)
class OutletClaim:
    """What decides one article's outlet: the named source of a feed listing it, else its domain."""

    article_id: int
    named_source_id: int | None
    domain: str | None


@dataclass(frozen=True, slots=True)
class Orphan:
    """A stored article without an outlet (stored before outlets existed): what `OutletClaim` needs."""

    article_id: int
    url: str
    final_url: str | None
    named_source_id: int | None


def upsert_named_sources(session: Session, named: dict[str, str | None]) -> dict[str, int]:
    """Outlet name (as given) -> id; each name with the registrable domain of its feed, or None."""
    for name, domain in sorted(named.items()):
        _name_outlet(session, as_stored(Source.name, name), domain)
    stored = {given: as_stored(Source.name, given) for given in named}
    query = select(Source.name, Source.id).where(Source.name.in_(set(stored.values())))
    found = dict(session.execute(query).all())
    return {given: found[name] for given, name in stored.items()}


def _name_outlet(session: Session, name: str, domain: str | None) -> None:
    own = session.execute(select(Source.id, Source.domain).where(Source.name == name)).first()
    holder = _domain_holder(session, domain)
    if own is None and holder is not None and _is_unnamed(holder):
        session.execute(update(Source).where(Source.id == holder.id).values(name=name))
    elif own is None:
        free = domain if holder is None else None
        insert = dialect_insert(session, Source).on_conflict_do_nothing()
        session.execute(insert, [{"name": name, "domain": free}])
    elif own.domain is None and domain is not None and (holder is None or _is_unnamed(holder)):
        if holder is not None:
            _merge(session, holder.id, own.id)
        session.execute(update(Source).where(Source.id == own.id).values(domain=domain))


def _domain_holder(session: Session, domain: str | None) -> Source | None:
    if domain is None:
        return None
    return session.scalars(select(Source).where(Source.domain == domain)).first()


def _is_unnamed(source: Source) -> bool:
    """Found from its articles and never named: its name is still its domain."""
    return source.name == source.domain


def _merge(session: Session, from_id: int, into_id: int) -> None:
    """Move one outlet's articles and feeds to another and delete it."""
    session.execute(update(Article).where(Article.source_id == from_id).values(source_id=into_id))
    session.execute(update(Feed).where(Feed.source_id == from_id).values(source_id=into_id))
    session.execute(delete(Source).where(Source.id == from_id))


def feed_sources(session: Session, feed_ids: Iterable[int]) -> dict[int, int]:
    """Feed id -> its named source, for the feeds among `feed_ids` that have one."""
    found: dict[int, int] = {}
    for chunk in chunks(sorted(set(feed_ids))):
        query = select(Feed.id, Feed.source_id).where(Feed.id.in_(chunk), Feed.source_id.is_not(None))
        found.update(session.execute(query).all())
    return found


def adopt(session: Session, claims: Sequence[OutletClaim]) -> int:
    """`assign_outlets` for articles stored before outlets existed, which are counted in the per-day
    counts (load/rollups.py) only now that they have one."""
    adopted = assign_outlets(session, claims)
    rollups.count_adopted_articles(session, [claim.article_id for claim in claims])
    return adopted


def assign_outlets(session: Session, claims: Sequence[OutletClaim]) -> int:
    """Give each claimed article without an outlet its outlet; returns how many were given one.

    An article that already has an outlet keeps it: the first feed or domain it was stored under decides.
    """
    domains = domain_outlets(session, {c.domain for c in claims if c.named_source_id is None and c.domain})
    rows = []
    for claim in sorted(claims, key=lambda c: c.article_id):  # row locks in key order
        source_id = claim.named_source_id or domains.get(claim.domain or "")
        if source_id is not None:
            rows.append({"article": claim.article_id, "source": source_id})
    if not rows:
        return 0
    statement = (
        update(Article.__table__)
        .where(Article.__table__.c.id == bindparam("article"), Article.__table__.c.source_id.is_(None))
        .values(source_id=bindparam("source"))
    )
    return session.execute(statement, rows).rowcount


def domain_outlets(session: Session, domains: set[str]) -> dict[str, int]:
    """Registrable domain -> the outlet holding it, created (named after the domain) where none does."""
    if not domains:
        return {}
    ordered = sorted(domains)
    insert = dialect_insert(session, Source).on_conflict_do_nothing()
    session.execute(insert, [{"name": domain, "domain": domain} for domain in ordered])
    found: dict[str, int] = {}
    for chunk in chunks(ordered):
        held = select(Source.domain, Source.id).where(Source.domain.in_(chunk))
        found.update(session.execute(held).all())
        # A named outlet may carry a domain's name as its own without holding it: the articles go there.
        missing = [domain for domain in chunk if domain not in found]
        if missing:
            named = select(Source.name, Source.id).where(Source.name.in_(missing))
            found.update(session.execute(named).all())
    return found


def orphans(session: Session, after_id: int, limit: int) -> list[Orphan]:
    """Up to `limit` stored articles without an outlet, by id from `after_id` on (exclusive), each with the
    named source of a feed listing it."""
    named = (
        select(func.min(Feed.source_id))
        .join(FeedItem, FeedItem.feed_id == Feed.id)
        .where(FeedItem.article_id == Article.id)
        .scalar_subquery()
    )
    query = (
        select(Article.id, Article.url, Article.final_url, named)
        .where(Article.source_id.is_(None), Article.id > after_id)
        .order_by(Article.id)
        .limit(limit)
    )
    return [Orphan(*row) for row in session.execute(query)]


@dataclass(frozen=True, slots=True)
class OutletListing:
    name: str
    domain: str | None
    feeds: int
    articles: int


def list_outlets(session: Session) -> list[OutletListing]:
    """Every outlet with its feeds and articles, most articles first."""
    feeds = select(func.count(Feed.id)).where(Feed.source_id == Source.id).scalar_subquery()
    articles = select(func.count(Article.id)).where(Article.source_id == Source.id).scalar_subquery()
    query = select(Source.name, Source.domain, feeds, articles).order_by(articles.desc(), Source.name)
    return [OutletListing(*row) for row in session.execute(query)]


class OutletNameError(ConfigError):
    """A rename that cannot be done (no such outlet, the name taken): nothing changed."""


def rename_outlet(session: Session, old: str, new: str) -> None:
    """Give an outlet another name; its articles, feeds and domain stay."""
    longest = Source.name.type.length
    if len(new) > longest:  # the column would cut it: say so rather than store another name
        raise OutletNameError(f"the new name is longer than {longest} characters")
    new_name = as_stored(Source.name, new)
    if not new_name.strip():
        raise OutletNameError("the new name is empty")
    if session.scalar(select(Source.id).where(Source.name == new_name)) is not None:
        raise OutletNameError(f"{new_name!r} already names an outlet")
    renamed = session.execute(update(Source).where(Source.name == old).values(name=new_name)).rowcount
    if not renamed:
        raise OutletNameError(f"no outlet named {old!r}; `newsetl sources list` shows them")
