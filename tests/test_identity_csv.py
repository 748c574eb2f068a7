"""`crmgraph identity match --csv`: a person file configured without code, matched by the same engine."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from pathlib import Path

import pytest

from crmgraph.identity.csv_match import CsvMatchError, load_match_config, match_csv, read_records, write_results
from crmgraph.identity.evaluate import evaluate

GIVEN = ("mitchell", "harley", "grace", "oliver", "chloe", "jack", "isabella", "lachlan", "ruby", "noah", "zoe", "liam")
SURNAMES = ("green", "mccarthy", "white", "nguyen", "smith", "brown", "wilson", "taylor", "martin", "kelly", "ryan")
STREETS = ("wallaby place", "pridham street", "banksia road", "kookaburra avenue", "coral crescent", "tasman drive")
SUBURBS = (
    ("cleveland", "4163", "qld"),
    ("marsden", "3165", "nsw"),
    ("delmar", "2119", "sa"),
    ("toorak", "3142", "vic"),
)
MATCH_FILE = """
id_column: rec_id
entity_column: person
fields:
  given_name: {column: given_name, normalize: text}
  surname: {column: surname, normalize: text}
  street: {column: address_1, normalize: street}
  street_number: {column: street_number, normalize: text}
  suburb: {column: suburb, normalize: text}
  postcode: {column: postcode, normalize: postcode}
  state: {column: state, normalize: text}
  dob: {column: date_of_birth, normalize: date}
  id_number: {column: soc_sec_id, normalize: id}
blocking: [[id_number], [surname, postcode], [given_name, dob], [surname, dob], [street, street_number]]
comparisons:
  - {field: given_name, kind: fuzzy, levels: [0.92, 0.8]}
  - {field: surname, kind: fuzzy, levels: [0.92, 0.8]}
  - {field: dob, kind: fuzzy, levels: [0.85], similarity: levenshtein}
  - {field: id_number, kind: fuzzy, levels: [0.85], similarity: levenshtein}
  - {field: street, kind: fuzzy, levels: [0.9, 0.75]}
  - {field: street_number, kind: exact}
  - {field: suburb, kind: fuzzy, levels: [0.9]}
  - {field: postcode, kind: fuzzy, levels: [0.75], similarity: levenshtein}
  - {field: state, kind: exact}
thresholds: {link: 0.99, review: 0.5}
"""
COLUMNS = ("rec_id", "given_name", "surname", "street_number", "address_1", "suburb", "postcode", "state",
           "date_of_birth", "soc_sec_id", "person")  # fmt: skip


def _slip(rng: random.Random, text: str) -> str:
    """One keyboard slip: a character dropped, doubled or swapped with its neighbour."""
    if len(text) < 3:
        return text
    i = rng.randrange(len(text) - 1)
    return rng.choice(
        (text[:i] + text[i + 1 :], text[: i + 1] + text[i:], text[:i] + text[i + 1] + text[i] + text[i + 2 :])
    )


def _person_file(path: Path, people: int, seed: int) -> None:
    """Originals and noisy duplicates (typos, blanks, a day and month swapped), one row each."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for n in range(people):
            suburb, postcode, state = rng.choice(SUBURBS)
            year, month, day = rng.randrange(1930, 2005), rng.randrange(1, 13), rng.randrange(1, 29)
            original = [f"rec-{n}-org", rng.choice(GIVEN), rng.choice(SURNAMES), str(rng.randrange(1, 400)),
                        rng.choice(STREETS), suburb, postcode, state, f"{year}{month:02d}{day:02d}",
                        str(rng.randrange(1_000_000, 9_999_999)), str(n)]  # fmt: skip
            writer.writerow(original)
            for copy in range(rng.choice((0, 0, 1, 2))):
                duplicate = list(original)
                duplicate[0] = f"rec-{n}-dup-{copy}"
                for _ in range(rng.randint(1, 3)):
                    column = rng.choice((1, 2, 4, 5, 9))
                    duplicate[column] = "" if rng.random() < 0.25 else _slip(rng, duplicate[column])
                if rng.random() < 0.1 and day <= 12:
                    duplicate[8] = f"{year}{day:02d}{month:02d}"
                writer.writerow(duplicate)


def test_a_person_file_is_deduplicated_with_a_match_file_alone(tmp_path: Path) -> None:
    _person_file(tmp_path / "people.csv", 1500, seed=3)
    (tmp_path / "match.yaml").write_text(MATCH_FILE)
    config = load_match_config(tmp_path / "match.yaml")
    records = read_records(tmp_path / "people.csv", config)
    result = match_csv(records, config)
    predicted = {profile.key: int(result.labels[row]) for row, profile in enumerate(result.profiles)}
    score = evaluate("records", predicted, records.entities).score("all")
    assert score.precision >= 0.99 and score.recall >= 0.95, (score.precision, score.recall)
    clusters, review = write_results(result, tmp_path / "out")
    with clusters.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(records.profiles) and {"source", "id", "cluster", "rule", "confidence"} <= set(rows[0])
    with review.open() as handle:
        assert next(csv.reader(handle))[:4] == ["left_source", "left_id", "right_source", "right_id"]


def test_the_command_prints_the_clusters_and_the_scores(tmp_path: Path) -> None:
    _person_file(tmp_path / "people.csv", 200, seed=4)
    (tmp_path / "match.yaml").write_text(MATCH_FILE)
    done = subprocess.run(
        [sys.executable, "-m", "crmgraph", "identity", "match", "--csv", str(tmp_path / "people.csv"),
         "--config", str(tmp_path / "match.yaml"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "clusters" in done.stdout and "precision" in done.stdout
    assert (tmp_path / "out" / "clusters.csv").exists()


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (("person_name: {column: nme}", "fields.person_name.column"), "fields.person_name.column", "no column 'nme'"),
        (("blocking: [[id_number]", "blocking: [[id_numbr]"), "", "unknown field 'id_numbr'"),
        (("normalize: date}", "normalize: dat}"), "fields.dob.normalize", "'date'"),
    ],
)
def test_a_bad_match_file_names_the_key_and_what_was_expected(
    tmp_path: Path, change: tuple[str, str], path: str, words: str
) -> None:
    _person_file(tmp_path / "people.csv", 5, seed=1)
    if change[1].startswith("fields."):
        text = MATCH_FILE.replace("fields:\n", f"fields:\n  {change[0]}\n")
    else:
        text = MATCH_FILE.replace(*change)
    (tmp_path / "match.yaml").write_text(text)
    with pytest.raises(CsvMatchError) as caught:
        read_records(tmp_path / "people.csv", load_match_config(tmp_path / "match.yaml"))
    assert any(problem.path == path and words in problem.message for problem in caught.value.problems), (
        caught.value.problems
    )
