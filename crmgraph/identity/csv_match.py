"""Matching a plain CSV export with the same engine: one row a record, fields declared in a YAML file.

A match file says which column names each row's system (optional), which holds its id (optional: the
row number otherwise), how each field is read from a column and normalised, and the usual blocking
rules, comparisons and thresholds::

    source_column: system            # optional
    id_column: rec_id                # optional
    entity_column: party             # optional: the true entity, to score the result
    fields:
      given_name: {column: given_name, normalize: text}
      surname:    {column: surname, normalize: text}
      dob:        {column: date_of_birth, normalize: date}
      postcode:   {column: postcode, normalize: postcode}
    blocking: [[surname, postcode], [dob]]
    comparisons:
      - {field: given_name, kind: fuzzy, levels: [0.92, 0.8]}
      - {field: dob, kind: fuzzy, levels: [0.85], similarity: levenshtein}
    thresholds: {link: 0.99, review: 0.6}

The result is written as two CSV files: every record with its cluster, and the review candidates with
the evidence per field.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crmgraph.errors import ConfigError
from crmgraph.identity import normalize as norm
from crmgraph.identity.matcher import MatchResult, match
from crmgraph.identity.profiles import Profile, Value
from crmgraph.identity.settings import MatchSettings

Normalizer = Literal[
    "text", "company_name", "person_name", "email", "domain", "phone", "tax_id", "postcode", "street",
    "house_number", "date", "id",
]  # fmt: skip


def _company_core(value: str | None) -> str | None:
    named = norm.company_name(value)
    return named[0] if named else None


def _identifier(value: str | None) -> str | None:
    kept = "".join(ch for ch in (value or "") if ch.isalnum()).upper()
    return kept or None


NORMALIZE: dict[str, Callable[[str | None], str | None]] = {
    "text": norm.text, "company_name": _company_core, "person_name": norm.person_name, "email": norm.email,
    "domain": norm.domain, "phone": norm.phone, "tax_id": norm.tax_id, "postcode": norm.postcode,
    "street": norm.street, "house_number": norm.house_number, "date": norm.date, "id": _identifier,
}  # fmt: skip


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(min_length=1, description="The CSV column the field is read from.")
    normalize: Normalizer = Field("text", description="How the value is normalised before comparing.")


class CsvMatchConfig(MatchSettings):
    """A match file: the fields of a CSV export and how to match its rows."""

    source_column: str | None = Field(None, description="Column naming each row's system; absent: one system.")
    id_column: str | None = Field(None, description="Column holding each row's id; absent: the row number.")
    entity_column: str | None = Field(None, description="Column holding the true entity, to score the result.")
    fields: dict[str, FieldSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _named_fields_exist(self) -> CsvMatchConfig:
        problems = self.check_fields(tuple(self.fields), frozenset())
        if problems:
            raise ValueError("; ".join(f"{path}: {problem}" for path, problem in problems))
        return self


class CsvMatchError(Exception):
    def __init__(self, problems: list[ConfigError]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


def load_match_config(path: Path) -> CsvMatchConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CsvMatchError([ConfigError("", f"cannot read {path}: {exc.strerror}")]) from exc
    except yaml.YAMLError as exc:
        raise CsvMatchError([ConfigError("", f"{path}: not valid YAML ({exc})")]) from exc
    try:
        return CsvMatchConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [
            ConfigError(".".join(str(part) for part in err["loc"]), err["msg"]) for err in exc.errors(include_url=False)
        ]
        raise CsvMatchError(problems) from exc


@dataclass
class CsvRecords:
    profiles: list[Profile]
    entities: dict[tuple[str, str], str]  # (source, id) -> true entity, when the file says


def read_records(path: Path, config: CsvMatchConfig) -> CsvRecords:
    """Profiles of every row; a missing column is an error naming it, an unreadable value is missing."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CsvMatchError([ConfigError("--csv", f"cannot read {path}: {exc.strerror}")]) from exc
    with handle:
        reader = csv.DictReader(handle, skipinitialspace=True)
        reader.fieldnames = [name.strip() for name in reader.fieldnames or ()]  # "rec_id, given_name" is common
        header = set(reader.fieldnames)
        wanted = {f"fields.{name}.column": spec.column for name, spec in config.fields.items()}
        for key in ("source_column", "id_column", "entity_column"):
            column = getattr(config, key)
            if column is not None:
                wanted[key] = column
        missing = [ConfigError(key, f"the file has no column {column!r}; it has: {', '.join(sorted(header))}")
                   for key, column in wanted.items() if column not in header]  # fmt: skip
        if missing:
            raise CsvMatchError(missing)
        profiles: list[Profile] = []
        entities: dict[tuple[str, str], str] = {}
        seen: set[tuple[str, str]] = set()
        for number, row in enumerate(reader, start=1):
            source = (row[config.source_column] or "").strip() if config.source_column else "csv"
            record_id = (row[config.id_column] or "").strip() if config.id_column else str(number)
            if (source, record_id) in seen:
                raise CsvMatchError([ConfigError("id_column", f"row {number}: the id {record_id!r} repeats")])
            seen.add((source, record_id))
            values: dict[str, Value] = {
                name: NORMALIZE[spec.normalize](row.get(spec.column)) for name, spec in config.fields.items()
            }
            profiles.append(Profile(source, record_id, values))
            if config.entity_column:
                entities[(source, record_id)] = row[config.entity_column]
    return CsvRecords(profiles, entities)


def match_csv(records: CsvRecords, config: CsvMatchConfig) -> MatchResult:
    return match(records.profiles, config, frozenset())


def write_results(result: MatchResult, out_dir: Path) -> tuple[Path, Path]:
    """``clusters.csv`` (source, id, cluster, rule, confidence) and ``review.csv`` (pairs with evidence)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    clusters_path, review_path = out_dir / "clusters.csv", out_dir / "review.csv"
    numbering: dict[int, int] = {}
    with clusters_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("source", "id", "cluster", "rule", "confidence"))
        for row, profile in enumerate(result.profiles):
            cluster = numbering.setdefault(int(result.labels[row]), len(numbering) + 1)
            joined = result.joined[row]
            writer.writerow((profile.source, profile.source_id, cluster, joined.rule, f"{joined.confidence:.6f}"))
    with review_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("left_source", "left_id", "right_source", "right_id", "probability", "weight", "why",
                         "evidence"))  # fmt: skip
        for candidate in result.review:
            left, right = result.profiles[candidate.left], result.profiles[candidate.right]
            evidence = json.dumps([vars(item) for item in result.explain(candidate.row)], ensure_ascii=False)
            scores = (f"{candidate.probability:.6f}", f"{candidate.weight:.3f}", candidate.why, evidence)
            writer.writerow((left.source, left.source_id, right.source, right.source_id, *scores))
    return clusters_path, review_path
