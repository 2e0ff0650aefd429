"""Topic tagging quality on ../shared/corpus/topics/dev.jsonl (300 hand-labelled headlines, titles only).

    python benchmarks/topic_quality.py [--model NAME] [--taxonomy PATH] [--errors]

Prints per-topic precision, recall and F1 of the Tagger (each headline tagged as a title with no body),
plus micro-averaged totals. --errors lists the misses and false alarms, for working on the taxonomy.
Note: the shipped taxonomy was written from GUIDE.md and then adjusted once after looking at this set's
errors, so these numbers are optimistic for unseen headlines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from newsetl.transform.tagging import Tagger, default_model_name, load_pipeline, load_taxonomy

DEFAULT_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "topics" / "dev.jsonl"


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_dev(path: Path = DEFAULT_DEV) -> list[tuple[str, set[str]]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["title"], set(row["topics"])) for row in rows]


def evaluate(tagger: Tagger, dev: list[tuple[str, set[str]]]) -> tuple[dict[str, Counts], list[str]]:
    """Per-topic counts, and one line per wrong headline."""
    taggings = tagger.tag([(title, "") for title, _ in dev])
    counts = {rule.name: Counts() for rule in tagger.taxonomy.topics}
    errors = []
    for (title, truth), tagging in zip(dev, taggings, strict=True):
        predicted = {hit.topic for hit in tagging.topics}
        for topic, c in counts.items():
            c.tp += topic in truth and topic in predicted
            c.fp += topic in predicted and topic not in truth
            c.fn += topic in truth and topic not in predicted
        if predicted != truth:
            errors.append(f"missed={sorted(truth - predicted)} extra={sorted(predicted - truth)}  {title}")
    return counts, errors


def print_table(counts: dict[str, Counts], items: int) -> None:
    header = f"{'topic':<18} {'support':>7} {'tp':>4} {'fp':>4} {'fn':>4}"
    print(f"{header} {'precision':>9} {'recall':>7} {'F1':>6}")
    total = Counts()
    for topic, c in counts.items():
        total.tp, total.fp, total.fn = total.tp + c.tp, total.fp + c.fp, total.fn + c.fn
        row = f"{topic:<18} {c.tp + c.fn:>7} {c.tp:>4} {c.fp:>4} {c.fn:>4}"
        print(f"{row} {c.precision:>9.3f} {c.recall:>7.3f} {c.f1:>6.3f}")
    row = f"{'micro (all)':<18} {total.tp + total.fn:>7} {total.tp:>4} {total.fp:>4} {total.fn:>4}"
    print(f"{row} {total.precision:>9.3f} {total.recall:>7.3f} {total.f1:>6.3f}")
    macro = sum(c.f1 for c in counts.values()) / len(counts)
    print(f"macro F1 {macro:.3f} over {items} headlines")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="spaCy pipeline (default: first installed default)")
    parser.add_argument("--taxonomy", type=Path, default=None)
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV)
    parser.add_argument("--errors", action="store_true", help="list the wrongly tagged headlines")
    args = parser.parse_args(argv)
    tagger = Tagger(load_pipeline(args.model or default_model_name()), load_taxonomy(args.taxonomy))
    dev = load_dev(args.dev)
    started = time.perf_counter()
    counts, errors = evaluate(tagger, dev)
    print(f"tagger {tagger.name}: {time.perf_counter() - started:.1f} s")
    print_table(counts, len(dev))
    if args.errors:
        print("\n".join(errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
