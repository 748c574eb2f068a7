"""The `identity:` section: defaults that work, partial overrides, and every mistake named by its key path."""

from __future__ import annotations

import pytest

from crmgraph.config import ConfigErrors, parse_config
from crmgraph.identity.settings import DEFAULT_COMPANIES

SOURCES = "sources: {crm: {adapter: hubspot, url: 'http://127.0.0.1:1', token: t}}\n"


def _problems(identity: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigErrors) as caught:
        parse_config(SOURCES + identity, environ={})
    return [(problem.path, problem.message) for problem in caught.value.problems]


def test_a_partial_section_keeps_the_default_rules() -> None:
    config = parse_config(SOURCES + "identity: {companies: {thresholds: {link: 0.995, review: 0.7}}}", environ={})
    assert config.identity.companies.thresholds.link == 0.995
    low = parse_config(SOURCES + "identity: {companies: {thresholds: {link: 0.75}}}", environ={})
    assert low.identity.companies.thresholds.sole == 0.75, "the default sole threshold follows a lower link one"
    assert config.identity.companies.blocking == DEFAULT_COMPANIES.blocking
    assert config.identity.companies.comparisons == DEFAULT_COMPANIES.comparisons


@pytest.mark.parametrize(
    ("identity", "path", "words"),
    [
        ("{companies: {blocking: [[tax_id], [nme]]}}", "identity.companies.blocking.1.0", "unknown field 'nme'"),
        ("{companies: {blocking: [[domains, phones]]}}", "identity.companies.blocking.0", "at most one field"),
        ("{persons: {distinct: [mail]}}", "identity.persons.distinct.0", "unknown field 'mail'"),
        (
            "{companies: {comparisons: [{field: domains, kind: exact}]}}",
            "identity.companies.comparisons.0.kind",
            "compared with overlap",
        ),
        ("{companies: {thresholds: {link: 0.5, review: 0.9}}}", "identity.companies.thresholds", "must not be above"),
        ("{companies: {thresholds: {link: 1.5}}}", "identity.companies.thresholds.link", "less than 1"),
        ("{companies: {thresholds: {sole: 0.3}}}", "identity.companies.thresholds", "sole (0.3) must lie between"),
        ("{companies: {blocking: [[domains~1]]}}", "identity.companies.blocking.0.0", "~1 applies to single"),
        ("{companies: {blocking: [[nam~1]]}}", "identity.companies.blocking.0.0", "unknown field 'nam'"),
        (
            "{persons: {comparisons: [{field: name, kind: fuzzy}]}}",
            "identity.persons.comparisons.0",
            "needs levels",
        ),
        (
            "{persons: {comparisons: [{field: name, kind: fuzzy, levels: [0.8, 0.9]}]}}",
            "identity.persons.comparisons.0",
            "highest first",
        ),
        ("{companies: {max_block: 1}}", "identity.companies.max_block", "greater than or equal to 2"),
        ("{survivorship: {fields: {nmae: [most_recent]}}}", "identity.survivorship.fields", "unknown golden field"),
        ("{survivorship: {default: [newest]}}", "identity.survivorship.default.0", "most_recent"),
        ("{companies: {blockng: []}}", "identity.companies.blockng", "not permitted"),
        ("{survivorship: {source_priority: [crm, erp]}}", "identity.survivorship.source_priority.1", "no source"),
    ],
)
def test_each_mistake_names_its_key_path_and_what_was_expected(identity: str, path: str, words: str) -> None:
    problems = _problems(f"identity: {identity}\n")
    assert any(found == path and words in message for found, message in problems), problems


def test_every_mistake_of_the_section_is_reported_at_once() -> None:
    problems = _problems("identity: {companies: {blocking: [[nme], [citty]]}, persons: {distinct: [mail]}}\n")
    paths = {path for path, _ in problems}
    assert {
        "identity.companies.blocking.0.0",
        "identity.companies.blocking.1.0",
        "identity.persons.distinct.0",
    } <= paths
