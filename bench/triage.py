"""Ticket triage on a seeded estate: training time, held-out scores and prediction throughput.

    python bench/triage.py                          # 2,000 customers, seed 42
    python bench/triage.py --customers 5000 --seed 7

Seeds the estate (kept under var/bench-triage/), trains `crmgraph triage train`'s model on the labelled
tickets, prints precision, recall and F1 per class and macro for severity, category and tags on the
held-out fifth, then times predictions of the saved and reloaded model one ticket at a time and in batches
of 100.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.seed import data_dir_is_current, generate_estate
from crmgraph.workflows.triage.dataset import pairs, split
from crmgraph.workflows.triage.evaluate import TargetScore
from crmgraph.workflows.triage.store import load_model, save_model
from crmgraph.workflows.triage.train import labelled_tickets, train


def _table(score: TargetScore) -> None:
    print(f"\n{score.target}: macro-F1 {score.macro_f1:.3f} (accuracy {score.accuracy:.3f})")
    print("| class | precision | recall | F1 | support |\n|---|---|---|---|---|")
    for c in score.classes:
        print(f"| {c.label} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} | {c.support} |")
    print(f"| **macro** | {score.macro_precision:.3f} | {score.macro_recall:.3f} | **{score.macro_f1:.3f}** | |")


def _rate(predict: object, batches: list[list[tuple[str, str]]], rounds: int) -> tuple[float, float]:
    """(tickets per second, p50 ms per call) over ``rounds`` passes through ``batches``."""
    assert callable(predict)
    times: list[float] = []
    for _ in range(rounds):
        for batch in batches:
            started = time.perf_counter()
            predict(batch)
            times.append(time.perf_counter() - started)
    tickets = sum(map(len, batches)) * rounds
    return tickets / sum(times), statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", type=Path, default=Path("var/bench-triage"))
    args = parser.parse_args()

    layout = EstateLayout(args.data_dir / f"{args.customers}-{args.seed}")
    if not data_dir_is_current(layout.root, seed=args.seed, customers=args.customers):
        generate_estate(layout, customers=args.customers, seed=args.seed)
    tickets = labelled_tickets(layout.ticket_labels, layout.tickets_db)
    languages = Counter(t.label.language for t in tickets)
    print(f"estate: {args.customers} customers, seed {args.seed}: {len(tickets)} labelled tickets {dict(languages)}")
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")

    started = time.perf_counter()
    training = train(tickets)
    total = time.perf_counter() - started
    print(f"training: {training.trained_on} tickets, fit {training.seconds:.2f} s "
          f"(with the held-out evaluation {total:.2f} s); held out {training.held_out}")  # fmt: skip
    for score in training.evaluation.targets.values():
        _table(score)
    for lang in sorted(languages):
        some = [t for t in split(tickets)[1] if t.label.language == lang]
        verdicts = training.model.predict(pairs(some))
        right = {
            target: sum(getattr(v, target) == getattr(t.label, target) for v, t in zip(verdicts, some, strict=True))
            for target in ("severity", "category")
        }
        print(f"\nheld out, {lang}: {len(some)} tickets, severity accuracy {right['severity'] / len(some):.3f}, "
              f"category accuracy {right['category'] / len(some):.3f}")  # fmt: skip

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.zip"
        started = time.perf_counter()
        save_model(training.model, path, training.summary())
        saved = time.perf_counter() - started
        started = time.perf_counter()
        model = load_model(path)
        loaded = time.perf_counter() - started
        size = path.stat().st_size
    print(f"\nmodel file: {size / 1024:.0f} KiB, saved in {saved * 1000:.0f} ms, loaded in {loaded * 1000:.0f} ms")
    texts = pairs(tickets)
    model.predict(texts[:100])  # warm up
    singles = [[text] for text in texts[:500]]
    hundreds = [texts[i : i + 100] for i in range(0, min(len(texts), 2000) - 99, 100)]
    rate, p50 = _rate(model.predict, singles, 2)
    print(f"predictions, batch of 1: {rate:,.0f} tickets/s (p50 {p50:.2f} ms per call)")
    rate, p50 = _rate(model.predict, hundreds, 3)
    print(f"predictions, batch of 100: {rate:,.0f} tickets/s (p50 {p50:.2f} ms per call)")


if __name__ == "__main__":
    main()
