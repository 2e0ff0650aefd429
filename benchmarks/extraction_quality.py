"""Article extraction quality on ../shared/corpus/articles: plain trafilatura vs our extract_article.

    python benchmarks/extraction_quality.py [--corpus PATH]

The score is the article-extraction-benchmark's own metric (scrapinghub/article-extraction-benchmark,
evaluate.py), re-implemented here so numbers compare with published ones: `\\w+` tokens, 4-gram shingles
counted with multiplicity, TP/FP/FN per page normalised to sum to 1, precision averaged over pages that
predicted something, recall over pages whose truth has something, F1 of the two means.
tests/integration/test_article_corpus.py imports `score_pages` and `load_corpus` from here.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import trafilatura

from newsetl.transform.articles import EmptyExtraction, extract_article

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "articles"
SHINGLE_SIZE = 4  # the benchmark's n-gram size
_TOKEN_RE = re.compile(r"\w+")

TpFpFn = tuple[float, float, float]


@dataclass(frozen=True)
class Page:
    id: str
    url: str
    html: str
    truth: str


@dataclass(frozen=True)
class Score:
    pages: int
    precision: float
    recall: float
    f1: float


def shingles(text: str, n: int = SHINGLE_SIZE) -> Counter[tuple[str, ...]]:
    """4-grams of `\\w+` tokens; a text shorter than n tokens is one short shingle (as in the benchmark)."""
    tokens = _TOKEN_RE.findall(text or "")
    grams = (tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))
    return Counter(gram for gram in grams if gram)


def page_tp_fp_fn(truth: str, predicted: str) -> TpFpFn:
    """Shingle TP/FP/FN of one page, normalised to sum to 1 so that long pages do not weigh more."""
    true_counts, pred_counts = shingles(truth), shingles(predicted)
    tp = sum((true_counts & pred_counts).values())
    fp = sum((pred_counts - true_counts).values())
    fn = sum((true_counts - pred_counts).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fp) if tp + fp else 0.0


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fn) if tp + fn else 0.0


def score_pages(pairs: list[tuple[str, str]]) -> Score:
    """Score (truth, predicted) pairs with the benchmark's metric."""
    counts = [page_tp_fp_fn(truth, predicted) for truth, predicted in pairs]
    precision = statistics.mean([_precision(*c) for c in counts if c[0] + c[1] > 0] or [0.0])
    recall = statistics.mean([_recall(*c) for c in counts if c[0] + c[2] > 0] or [0.0])
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(pages=len(pairs), precision=precision, recall=recall, f1=f1)


def load_corpus(folder: Path = DEFAULT_CORPUS) -> Iterator[Page]:
    """The benchmark pages (UTF-8, gzip) with their ground-truth article bodies, in id order."""
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    for page_id in sorted(truth):
        html = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8")
        yield Page(page_id, truth[page_id]["url"], html, truth[page_id]["articleBody"])


def ours(page: Page) -> str:
    try:
        return extract_article(page.html, page.url).text
    except EmptyExtraction:
        return ""


def baseline(page: Page) -> str:
    return trafilatura.extract(page.html, include_comments=False) or ""


def run(extractor: Callable[[Page], str], pages: list[Page]) -> tuple[Score, float]:
    started = time.perf_counter()
    pairs = [(page.truth, extractor(page)) for page in pages]
    return score_pages(pairs), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    pages = list(load_corpus(args.corpus))
    print(f"{'extractor':<28} {'pages':>5} {'precision':>9} {'recall':>7} {'F1':>7} {'seconds':>8}")
    for name, extractor in (("trafilatura.extract (base)", baseline), ("newsetl extract_article", ours)):
        score, seconds = run(extractor, pages)
        print(
            f"{name:<28} {score.pages:>5} {score.precision:>9.4f} {score.recall:>7.4f} "
            f"{score.f1:>7.4f} {seconds:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
