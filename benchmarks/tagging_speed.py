"""Tagging speed: our full tagging (Tagger.tag) against bare spaCy nlp.pipe on the same components and texts.

    python benchmarks/tagging_speed.py [--model NAME] [--repeat 3] [--rounds 3] [--min-ratio 0.9]

Texts: the 85 article bodies of ../shared/corpus/articles/ground-truth.json, repeated --repeat times,
tagged without a title as the article pages are. Words are the whitespace tokens of the strings tagged.

- bare: `load_pipeline(model)` (the components the Tagger uses), `list(nlp.pipe(texts, batch_size=
  PIPE_BATCH_SIZE))` over the strings Tagger.tag would tag (`_prepare(None, text, max_chars)`, prepared
  before the clock starts).
- ours: `build_tagger(model, None, None).tag([(None, text), ...])`: NER, topic scoring, entity resolution.

Two modes: 1 process (in this process) and 2 processes (a spawn Pool of 2 workers, each loading both
pipelines once in its initializer and warming them on a few texts; the texts go out in chunks of
PIPE_BATCH_SIZE, the same chunks for bare and ours, and only the work after every worker is ready is
timed). The machine's speed varies run to run, so each mode alternates bare and ours for --rounds rounds
(the order swapped every round) and reports the best words/s of each, their ratio, and the ratio within
each round. PASS when the best-to-best ratio is at least --min-ratio; the exit status is 1 if a mode fails.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier
from pathlib import Path

from spacy.language import Language

from newsetl.transform.tagging import (
    PIPE_BATCH_SIZE,
    Tagger,
    _prepare,
    build_tagger,
    default_model_name,
    load_pipeline,
)

REPO = Path(__file__).resolve().parents[1]
ARTICLES = REPO.parent / "shared" / "corpus" / "articles" / "ground-truth.json"
WORKERS = 2
WARM_UP_TEXTS = 4  # texts each worker tags with both pipelines before it reports ready
KINDS = ("bare", "ours")

# Per process: the two pipelines, loaded once (in the main process for 1-process rows, in each worker's
# initializer for 2-process rows).
_BARE: Language | None = None
_TAGGER: Tagger | None = None


# --- the work --------------------------------------------------------------------------------------------


def _load(model: str) -> None:
    global _BARE, _TAGGER
    _BARE = load_pipeline(model)
    _TAGGER = build_tagger(model, None, None)


def run_bare(prepared: Sequence[str]) -> int:
    """Bare spaCy over already prepared strings; the number of Docs made."""
    assert _BARE is not None
    return len(list(_BARE.pipe(prepared, batch_size=PIPE_BATCH_SIZE)))


def run_ours(texts: Sequence[str]) -> int:
    """Our full tagging of title-less texts; the number of Taggings made."""
    assert _TAGGER is not None
    return len(_TAGGER.tag([(None, text) for text in texts]))


def _run(job: tuple[str, list[str]]) -> int:
    kind, texts = job
    return run_bare(texts) if kind == "bare" else run_ours(texts)


def _init_worker(model: str, warm_up: list[str], ready: Barrier) -> None:
    _load(model)
    run_bare(warm_up)
    run_ours(warm_up)
    ready.wait()


# --- timing ----------------------------------------------------------------------------------------------


@dataclass
class Mode:
    name: str
    rates: dict[str, list[float]] = field(default_factory=lambda: {kind: [] for kind in KINDS})

    def best(self, kind: str) -> float:
        return max(self.rates[kind])

    @property
    def ratio(self) -> float:
        return self.best("ours") / self.best("bare")

    @property
    def round_ratios(self) -> list[float]:
        return [ours / bare for bare, ours in zip(self.rates["bare"], self.rates["ours"], strict=True)]


def round_order(round_no: int) -> tuple[str, ...]:
    """bare first in even rounds, ours first in odd ones, so a drift in speed favours neither."""
    return KINDS if round_no % 2 == 0 else KINDS[::-1]


def chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def time_single(inputs: dict[str, list[str]], words: int, rounds: int) -> Mode:
    mode = Mode("1 process")
    for round_no in range(rounds):
        for kind in round_order(round_no):
            began = time.perf_counter()
            done = _run((kind, inputs[kind]))
            seconds = time.perf_counter() - began
            assert done == len(inputs[kind])
            mode.rates[kind].append(words / seconds)
    return mode


def time_pool(model: str, inputs: dict[str, list[str]], words: int, rounds: int) -> Mode:
    mode = Mode(f"{WORKERS} processes")
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(WORKERS + 1)
    warm_up = inputs["bare"][:WARM_UP_TEXTS]
    jobs = {kind: [(kind, chunk) for chunk in chunks(inputs[kind], PIPE_BATCH_SIZE)] for kind in KINDS}
    with context.Pool(WORKERS, initializer=_init_worker, initargs=(model, warm_up, ready)) as pool:
        ready.wait()  # every worker has loaded and warmed both pipelines
        for round_no in range(rounds):
            for kind in round_order(round_no):
                began = time.perf_counter()
                done = sum(pool.imap_unordered(_run, jobs[kind]))
                seconds = time.perf_counter() - began
                assert done == len(inputs[kind])
                mode.rates[kind].append(words / seconds)
    return mode


# --- main ------------------------------------------------------------------------------------------------


def load_texts(path: Path, repeat: int) -> list[str]:
    pages = json.loads(path.read_text(encoding="utf-8"))
    return [page["articleBody"] for page in pages.values()] * repeat


def print_table(modes: Sequence[Mode], min_ratio: float) -> None:
    print(
        f"\n{'mode':<12} {'bare words/s':>13} {'ours words/s':>13} {'ratio':>6}  "
        f"{'vs ' + format(min_ratio, '.2f'):<7} ratio per round"
    )
    for mode in modes:
        verdict = "PASS" if mode.ratio >= min_ratio else "FAIL"
        per_round = " ".join(f"{r:.3f}" for r in mode.round_ratios)
        print(
            f"{mode.name:<12} {mode.best('bare'):>13,.0f} {mode.best('ours'):>13,.0f} "
            f"{mode.ratio:>6.3f}  {verdict:<7} {per_round}"
        )
    print("\nbest (max words/s) of each over the rounds; ratio = ours / bare, best to best")
    for mode in modes:
        for kind in KINDS:
            rates = " ".join(f"{rate:,.0f}" for rate in mode.rates[kind])
            print(f"  {mode.name:<12} {kind:<4} words/s per round: {rates}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="spaCy pipeline (default: first installed default)")
    parser.add_argument("--corpus", type=Path, default=ARTICLES)
    parser.add_argument("--repeat", type=int, default=3, help="times the 85 article bodies are repeated")
    parser.add_argument("--rounds", type=int, default=3, help="bare/ours alternations per mode")
    parser.add_argument("--min-ratio", type=float, default=0.90, help="ours / bare needed to pass")
    args = parser.parse_args(argv)
    model = args.model or default_model_name()

    _load(model)
    assert _TAGGER is not None
    texts = load_texts(args.corpus, args.repeat)
    prepared = [_prepare(None, text, _TAGGER.max_chars) for text in texts]
    inputs = {"bare": [combined for combined, _, _ in prepared], "ours": texts}
    words = sum(len(combined.split()) for combined in inputs["bare"])
    cut = sum(truncated for _, _, truncated in prepared)
    print(f"tagger {_TAGGER.name}")
    print(f"pipeline components {', '.join(_BARE.pipe_names if _BARE else [])}")
    print(
        f"texts {len(texts)} ({len(texts) // args.repeat} article bodies x {args.repeat}), "
        f"{words:,} words, {sum(map(len, inputs['bare'])):,} characters, {cut} cut to "
        f"{_TAGGER.max_chars:,} characters; batch size {PIPE_BATCH_SIZE}, {args.rounds} rounds"
    )
    run_bare(inputs["bare"][:WARM_UP_TEXTS])
    run_ours(inputs["ours"][:WARM_UP_TEXTS])

    modes = [
        time_single(inputs, words, args.rounds),
        time_pool(model, inputs, words, args.rounds),
    ]
    print_table(modes, args.min_ratio)
    return 0 if all(mode.ratio >= args.min_ratio for mode in modes) else 1


if __name__ == "__main__":
    sys.exit(main())
