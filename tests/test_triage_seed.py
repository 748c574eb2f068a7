"""The seed's labelled tickets: every ticket has a label, the ticket system agrees with it, the texts vary
like real requests, and `crmgraph triage` trains, evaluates and predicts on a seeded estate."""

from __future__ import annotations

import csv
import json
import sqlite3
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmgraph.cli import app
from crmgraph.demo.layout import EstateLayout
from crmgraph.demo.seed import Manifest
from crmgraph.demo.seed.ticket_phrases import CATEGORIES, SEVERITIES, TOPICS
from crmgraph.workflows.triage.errors import TriageFileError
from crmgraph.workflows.triage.train import labelled_tickets


def _labels(layout: EstateLayout) -> list[dict[str, str]]:
    with layout.ticket_labels.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _tickets(layout: EstateLayout) -> dict[str, sqlite3.Row]:
    conn = sqlite3.connect(layout.tickets_db)
    conn.row_factory = sqlite3.Row
    try:
        return {str(r["id"]): r for r in conn.execute("SELECT id, subject, description, priority FROM tickets")}
    finally:
        conn.close()


def test_every_seeded_ticket_has_a_label_its_priority_agrees_with(estate_layout: EstateLayout) -> None:
    labels, tickets = _labels(estate_layout), _tickets(estate_layout)
    assert [row["ticket"] for row in labels] == list(tickets), "one label per ticket, in the same order"
    for row in labels:
        assert row["severity"] in SEVERITIES and row["category"] in CATEGORIES
        assert row["language"] in ("en", "zh")
        tags = row["tags"].split(";")
        assert tags[0] in TOPICS[row["category"]] and set(tags[1:]) <= {"callback"}
        assert tickets[row["ticket"]]["priority"] == row["severity"]


def test_the_manifest_counts_the_labels(estate_layout: EstateLayout) -> None:
    manifest = Manifest.read(estate_layout.manifest)
    assert manifest is not None
    counted: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for row in _labels(estate_layout):
        for kind in ("severity", "category", "language"):
            counted[f"tickets/{kind}"][row[kind]] += 1
        counted["tickets/tags"].update(row["tags"].split(";"))
    assert manifest.labels == {key: dict(values) for key, values in counted.items()}
    assert sum(manifest.labels["tickets/category"].values()) == manifest.rows["tickets"]["tickets"]


def test_seeded_ticket_texts_vary_like_real_requests(estate_layout: EstateLayout) -> None:
    labels, tickets = _labels(estate_layout), _tickets(estate_layout)
    assert {row["category"] for row in labels} == set(CATEGORIES)
    assert {row["severity"] for row in labels} == set(SEVERITIES)
    languages = Counter(row["language"] for row in labels)
    assert min(languages["en"], languages["zh"]) >= len(labels) / 10
    descriptions = [tickets[row["ticket"]]["description"] for row in labels]
    assert len(set(descriptions)) >= 0.95 * len(descriptions), "texts are composed, not copied"
    subjects: defaultdict[str, set[str]] = defaultdict(set)
    for row in labels:
        subjects[row["category"]].add(tickets[row["ticket"]]["subject"])
    assert all(len(found) >= 5 for found in subjects.values()), "several phrasings per class"
    zh = [d for row, d in zip(labels, descriptions, strict=True) if row["language"] == "zh"]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in d) for d in zh)


def test_labels_of_another_estate_are_refused(estate_layout: EstateLayout, tmp_path: Path) -> None:
    foreign = tmp_path / "labels.csv"
    foreign.write_text("ticket,severity,category,tags\n999999991,low,billing,refund\n999999992,high,billing,refund\n")
    with pytest.raises(TriageFileError, match="do not match the tickets: 0 of 2"):
        labelled_tickets(foreign, estate_layout.tickets_db)
    headless = tmp_path / "headless.csv"
    headless.write_text("id,priority\n1,low\n")
    with pytest.raises(TriageFileError, match="no column ticket, severity, category, tags"):
        labelled_tickets(headless, estate_layout.tickets_db)
    with pytest.raises(TriageFileError, match="not a ticket database"):
        labelled_tickets(estate_layout.ticket_labels, estate_layout.ticket_labels)


def test_the_cli_trains_evaluates_and_predicts_on_a_seeded_estate(estate_layout: EstateLayout, tmp_path: Path) -> None:
    runner = CliRunner()
    model = tmp_path / "model.zip"
    trained = runner.invoke(app, ["triage", "train", "--data-dir", str(estate_layout.root), "--out", str(model)])
    assert trained.exit_code == 0, trained.output
    for target in ("severity", "category", "tags"):
        assert f"{target}: macro-F1" in trained.output
    assert model.is_file()
    evaluated = runner.invoke(app, ["triage", "evaluate", "-m", str(model), "--data-dir", str(estate_layout.root)])
    assert evaluated.exit_code == 0, evaluated.output
    held_out = [line for line in trained.output.splitlines() if "macro-F1" in line]
    assert held_out == [line for line in evaluated.output.splitlines() if "macro-F1" in line]
    predicted = runner.invoke(app, ["triage", "predict", "-m", str(model), "物流延迟", "订单还没到，请尽快处理。"])
    assert predicted.exit_code == 0 and "language=zh" in predicted.output, predicted.output
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(model.read_bytes()[:100])
    refused = runner.invoke(app, ["triage", "predict", "-m", str(damaged), "x"])
    assert refused.exit_code == 2 and "not a triage model file" in refused.output
    missing = runner.invoke(app, ["triage", "train", "--data-dir", str(tmp_path), "--out", str(tmp_path / "m.zip")])
    assert missing.exit_code == 2 and "no such labels file" in missing.output
    with zipfile.ZipFile(model) as archive:
        assert json.loads(archive.read("meta.json"))["trained"]["held_out"] > 0
