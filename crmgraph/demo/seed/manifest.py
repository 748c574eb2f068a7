"""What a generated estate contains: written last, so its presence means the estate is complete."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

GENERATOR_VERSION = 9  # bump whenever the same seed would give different data


class Manifest(BaseModel):
    generator_version: int = GENERATOR_VERSION
    seed: int
    customers: int
    as_of: str
    seconds: float
    # store -> table -> rows written
    rows: dict[str, dict[str, int]]
    # "system/object" -> number of records in the ground truth
    records: dict[str, int]
    # "system/object" -> noise kind (or "explicit_xref") -> records affected
    noise: dict[str, dict[str, int]]
    # "tickets/<label kind>" (severity, category, tags, language) -> label -> tickets (tickets_labels.csv)
    labels: dict[str, dict[str, int]] = {}

    def matches(self, *, seed: int, customers: int) -> bool:
        return (self.generator_version, self.seed, self.customers) == (GENERATOR_VERSION, seed, customers)

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> Manifest | None:
        if not path.exists():
            return None
        try:
            return cls.model_validate_json(path.read_text())
        except ValueError:
            return None  # an unreadable manifest means "generate again", never a crash

    def shares(self) -> list[tuple[str, int, str, int, float]]:
        """(system/object, records, kind, affected, share) for every kind of noise and cross-reference."""
        rows = []
        for key in sorted(self.noise):
            total = self.records.get(key, 0)
            for kind, affected in sorted(self.noise[key].items()):
                rows.append((key, total, kind, affected, affected / total if total else 0.0))
        return rows
