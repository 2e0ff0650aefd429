"""The two faces of transform/ on JSON lines: `newsetl extract --jsonl` and `newsetl tag --jsonl`.

A bad line gets an error line of its own (same id where one was readable) and the stream goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TextIO

from newsetl.transform.articles import EmptyExtraction, extract_article
from newsetl.transform.records import ExtractedArticle, Tagging
from newsetl.transform.tagging import Tagger

# Texts handed to spaCy's nlp.pipe at once: big enough to batch well, small enough to stream.
TAG_BATCH = 32


def extract_lines(lines: Iterable[str], out: TextIO) -> int:
    """Extract each `{"id","url","html"}` line; returns how many lines were errors."""
    errors = 0
    for number, line in enumerate(lines, start=1):
        record = _record(line, number, ("id", "url", "html"))
        reply = record if "error" in record else _extract_reply(record)
        errors += "error" in reply
        _write(out, reply)
    return errors


def _extract_reply(record: dict[str, Any]) -> dict[str, Any]:
    try:
        article = extract_article(record["html"], record["url"])
    except EmptyExtraction as empty:
        return {"id": record["id"], "error": str(empty.outcome), "reason": empty.reason}
    return {"id": record["id"], **article_json(article)}


def article_json(article: ExtractedArticle) -> dict[str, Any]:
    return {
        "title": article.title,
        "text": article.text,
        "authors": list(article.authors),
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "language": article.language,
        "canonical_url": article.canonical_url,
    }


def tag_lines(lines: Iterable[str], tagger: Tagger, out: TextIO) -> int:
    """Tag each `{"id","text"}` line (optional "title"), in batches; returns how many lines were errors."""
    errors = 0
    numbered = enumerate(lines, start=1)
    while batch := list(islice(numbered, TAG_BATCH)):
        records = [_record(line, number, ("id", "text")) for number, line in batch]
        good = [r for r in records if "error" not in r]
        tagged = iter(tagger.tag([(r.get("title"), r["text"]) for r in good]))
        for record in records:
            reply = record if "error" in record else {"id": record["id"], **tagging_json(next(tagged))}
            errors += "error" in reply
            _write(out, reply)
    return errors


def tagging_json(tagging: Tagging) -> dict[str, Any]:
    """Entities with the surface forms they were resolved from; topics that passed, and those under the
    threshold that a strong term hit (`passed: false`)."""
    return {
        "entities": [
            {"text": e.text, "label": e.label, "count": e.count, "surfaces": dict(e.surfaces)}
            for e in tagging.entities
        ],
        "topics": [
            {"topic": t.topic, "score": t.score, "passed": t.passed, "evidence": t.evidence}
            for t in tagging.topics
        ],
        "tagger": tagging.tagger,
    }


def _record(line: str, number: int, required: tuple[str, ...]) -> dict[str, Any]:
    """The parsed line, or an error reply that says what is wrong with it."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return {"id": None, "error": "bad_input", "detail": f"record {number}: not JSON ({error.msg})"}
    if not isinstance(record, dict):
        return {"id": None, "error": "bad_input", "detail": f"record {number}: not a JSON object"}
    missing = [key for key in required if not isinstance(record.get(key), (str, int) if key == "id" else str)]
    if record.get("title") is not None and not isinstance(record["title"], str):
        missing.append("title")
    if missing:
        detail = f"record {number}: missing or non-string {', '.join(missing)}"
        return {"id": record.get("id"), "error": "bad_input", "detail": detail}
    return record


def _write(out: TextIO, reply: dict[str, Any]) -> None:
    out.write(json.dumps(reply, ensure_ascii=False) + "\n")
    out.flush()


def non_blank(lines: Iterable[str]) -> Iterator[str]:
    return (line for line in lines if line.strip())
