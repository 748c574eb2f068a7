"""The ``identity:`` section of the configuration: how records are matched into golden customers and persons.

Everything has a default that suits a CRM + ERP + ticket estate; a deployment overrides what it must::

    identity:
      url: postgresql+psycopg://crmgraph@db/crmgraph
      companies:
        thresholds: {link: 0.995, review: 0.6}
        blocking: [[tax_id], [domains], [name, city]]
      survivorship:
        fields: {phone: [most_recent, source_priority]}

A *field* is a normalised value of a record (see :data:`COMPANY_FIELDS`, :data:`PERSON_FIELDS`; a CSV
match names its own). *Blocking* rules say which pairs are compared at all: records that agree exactly
on every field of at least one rule. *Comparisons* grade each compared pair per field (exact, close,
different, missing); a Fellegi-Sunter model estimated from the data turns the grades into a match
weight. Pairs whose match probability reaches ``thresholds.link`` are linked; those between
``thresholds.review`` and it wait for a steward; the rest are left alone.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The fields every party and person record yields (crmgraph.identity.profiles builds them).
COMPANY_FIELDS = (
    "name", "legal_form", "tax_id", "domains", "emails", "phones", "people", "street", "house_number",
    "postcode", "city", "country",
)  # fmt: skip
PERSON_FIELDS = (
    "name", "first_name", "last_name", "email", "email_user", "work_email", "phone", "customer", "job_title",
)  # fmt: skip
WITHIN_ONE_EDIT = "~1"  # a blocking field suffix: the values may differ by one typo (see identity.columns)
SET_FIELDS = frozenset({"domains", "emails", "phones", "people"})
NORMALIZERS = (
    "text", "company_name", "person_name", "email", "domain", "phone", "tax_id", "postcode", "street",
    "house_number", "date", "id",
)  # fmt: skip
SURVIVORSHIP_RULES = ("source_priority", "most_recent", "most_frequent", "non_empty")
SURVIVING_FIELDS = ("name", "tax_id", "domain", "email", "phone", "country", "city", "industry", "lifecycle_stage")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Comparison(_Strict):
    """How one field of two records is graded."""

    field: str = Field(min_length=1, description="The field compared.")
    kind: Literal["exact", "fuzzy", "overlap", "email"] = Field(
        "exact",
        description="exact: agree or differ; fuzzy: graded by string similarity (``levels``); overlap: for "
        "fields holding several values (e-mail domains, phones), agree when any value is shared; email: "
        "e-mail addresses graded as the same, the same person part (melissa.wilson@work, melissawilson96@gmail), "
        "or different.",
    )
    levels: tuple[float, ...] = Field(
        (),
        description="fuzzy only: similarity thresholds (0 to 1, highest first), one grade each below exact.",
    )
    similarity: Literal["jaro_winkler", "token_set", "token_sort", "levenshtein"] = Field(
        "jaro_winkler",
        description="fuzzy only: jaro_winkler (names), token_sort (words in any order), token_set (one side's "
        "words within the other's), levenshtein (codes, dates).",
    )

    @model_validator(mode="after")
    def _levels_fit_kind(self) -> Comparison:
        if self.kind == "fuzzy":
            if not self.levels:
                raise ValueError("a fuzzy comparison needs levels, e.g. [0.95, 0.88]")
            if any(not 0 < level < 1 for level in self.levels):
                raise ValueError(f"levels must lie between 0 and 1 (exclusive), got {list(self.levels)}")
            if list(self.levels) != sorted(self.levels, reverse=True) or len(set(self.levels)) != len(self.levels):
                raise ValueError(f"levels must be distinct and highest first, got {list(self.levels)}")
        elif self.levels:
            raise ValueError(f"levels apply to fuzzy comparisons only, not to {self.kind}")
        return self

    @property
    def grades(self) -> int:
        """Grades a compared pair can get (missing aside): differ, the fuzzy levels (or e-mail grades), exact."""
        return 3 if self.kind == "email" else 2 + len(self.levels)


class Thresholds(_Strict):
    link: float = Field(0.97, gt=0, lt=1, description="Match probability from which a pair is linked.")
    review: float = Field(0.5, gt=0, lt=1, description="Match probability from which a pair goes to review.")
    sole: float | None = Field(
        0.8,
        gt=0,
        lt=1,
        description="A record still alone after linking joins the one golden record it has candidates in when "
        "its best pair there scores at least this and no comparison of that pair speaks against it (a sparse "
        "duplicate that offers only its name); null turns this off.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review > self.link:
            raise ValueError(f"review ({self.review}) must not be above link ({self.link})")
        if self.sole is not None and not self.review <= self.sole <= self.link:
            if "sole" in self.model_fields_set:
                raise ValueError(f"sole ({self.sole}) must lie between review ({self.review}) and link ({self.link})")
            # The default follows thresholds set without it, rather than fail a file that never named it.
            object.__setattr__(self, "sole", min(max(self.sole, self.review), self.link))
        return self


class MatchSettings(_Strict):
    """Matching of one kind of record (companies, persons, or the rows of a CSV file)."""

    blocking: tuple[tuple[str, ...], ...] = Field(
        description="Rules: lists of fields; pairs agreeing exactly on all fields of any rule are compared. "
        "A field written ``name~1`` agrees when the two values are at most one typo apart.",
        min_length=1,
    )
    comparisons: tuple[Comparison, ...] = Field(min_length=1)
    distinct: tuple[str, ...] = Field(
        (), description="Fields a golden record never holds two different values of (a tax id)."
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)
    max_block: int = Field(
        400, ge=2, le=100_000, description="A blocking key shared by more records than this is too common to use."
    )
    prior: float = Field(
        0.05, gt=0, lt=1, description="Starting guess of the share of compared pairs that match (EM refines it)."
    )
    iterations: int = Field(40, ge=1, le=1000, description="EM iterations at most.")
    u_sample: int = Field(
        200_000, ge=1000, le=10_000_000, description="Random pairs drawn to learn how often non-matches agree."
    )

    @field_validator("blocking")
    @classmethod
    def _rules_name_fields(cls, rules: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        for number, rule in enumerate(rules):
            if not rule:
                raise ValueError(f"rule {number} names no field")
        return rules

    def check_fields(self, known: tuple[str, ...], set_fields: frozenset[str]) -> list[tuple[str, str]]:
        """(path, problem) for every field named here that the records do not have."""
        problems: list[tuple[str, str]] = []
        hint = ", ".join(known)
        for number, rule in enumerate(self.blocking):
            for position, name in enumerate(rule):
                base = name.removesuffix(WITHIN_ONE_EDIT)
                if base not in known:
                    problems.append((f"blocking.{number}.{position}", f"unknown field {base!r}; fields: {hint}"))
                elif base != name and base in set_fields:
                    problems.append(
                        (f"blocking.{number}.{position}", f"{base} holds several values; ~1 applies to single ones")
                    )
            if sum(name in set_fields or name.endswith(WITHIN_ONE_EDIT) for name in rule) > 1:
                problems.append((f"blocking.{number}", "a rule may name at most one field with several values"))
        for number, comparison in enumerate(self.comparisons):
            if comparison.field not in known:
                problems.append((f"comparisons.{number}.field", f"unknown field {comparison.field!r}; fields: {hint}"))
            elif (comparison.kind == "overlap") != (comparison.field in set_fields):
                expected = "overlap" if comparison.field in set_fields else "exact or fuzzy"
                problems.append(
                    (
                        f"comparisons.{number}.kind",
                        f"{comparison.field} is compared with {expected}, not {comparison.kind}",
                    )
                )
        for number, name in enumerate(self.distinct):
            if name not in known:
                problems.append((f"distinct.{number}", f"unknown field {name!r}; fields: {hint}"))
        return problems


def _fuzzy(name: str, *levels: float, similarity: str = "jaro_winkler") -> Comparison:
    return Comparison.model_validate({"field": name, "kind": "fuzzy", "levels": levels, "similarity": similarity})


DEFAULT_COMPANIES = MatchSettings(
    # The name within one typo: a duplicate typed in a hurry often carries nothing else. Namesakes are
    # rare enough that a name block is mostly matches; the rest of the comparisons tell them apart.
    blocking=(
        ("tax_id",),
        ("domains",),
        ("phones",),
        ("people",),
        ("name~1",),
        ("postcode", "house_number"),
        ("city", "street"),
    ),
    comparisons=(
        Comparison(field="tax_id"),
        Comparison(field="domains", kind="overlap"),
        Comparison(field="phones", kind="overlap"),
        Comparison(field="people", kind="overlap"),
        _fuzzy("name", 0.96, 0.9),
        Comparison(field="legal_form"),
        _fuzzy("street", 0.9, 0.75, similarity="token_sort"),
        _fuzzy("postcode", 0.8),
        Comparison(field="house_number"),
        Comparison(field="city"),
    ),
    distinct=("tax_id",),
)
DEFAULT_PERSONS = MatchSettings(
    blocking=(
        ("email",),
        ("phone",),
        ("customer", "name"),
        ("customer", "first_name"),
        ("customer", "last_name"),
    ),
    comparisons=(
        Comparison(field="email", kind="email"),
        Comparison(field="phone"),
        _fuzzy("name", 0.96, 0.88),
        Comparison(field="customer"),
        Comparison(field="job_title"),
    ),
    distinct=("work_email",),
    # Two records at one customer with one name are one person far more often than the pairwise model
    # can know (it scores each pair alone); measured on the demo estate, every pair between 0.95 and 0.99
    # was one person.
    thresholds=Thresholds(link=0.95, review=0.5, sole=0.8),
)


class Survivorship(_Strict):
    """Which record's value a golden field takes: rules tried in order until one decides."""

    default: tuple[Literal["source_priority", "most_recent", "most_frequent", "non_empty"], ...] = Field(
        ("source_priority",), min_length=1, description="Rules for every field not named in ``fields``."
    )
    fields: dict[str, tuple[Literal["source_priority", "most_recent", "most_frequent", "non_empty"], ...]] = Field(
        default_factory=dict, description="Rules per golden field (name, tax_id, phone, ...)."
    )
    source_priority: tuple[str, ...] = Field(
        (), description="Sources in order of trust; by default the order of ``sources:``."
    )

    @field_validator("fields")
    @classmethod
    def _known(cls, fields: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, rules in fields.items():
            if name not in SURVIVING_FIELDS:
                raise ValueError(f"unknown golden field {name!r}; fields: {', '.join(SURVIVING_FIELDS)}")
            if not rules:
                raise ValueError(f"{name}: name at least one rule")
        return fields

    def rules_for(self, name: str) -> tuple[str, ...]:
        return self.fields.get(name, self.default)


class IdentityConfig(_Strict):
    """The identity store and how records are matched.

    ``companies`` and ``persons`` may name only what differs from the defaults: the keys given replace
    the default's, the others stay (``companies: {thresholds: {link: 0.995}}`` keeps the default rules).
    """

    url: str = Field("sqlite:///var/identity.sqlite", description="SQLAlchemy URL of the identity store.")
    remembered_customers: int = Field(
        10_000,
        ge=0,
        description="How many customers' links the facade keeps in memory, exact across processes (SQLite "
        "stores only; 0 for none): a request then reads them without a trip to the store.",
    )
    companies: MatchSettings = Field(default_factory=lambda: DEFAULT_COMPANIES)
    persons: MatchSettings = Field(default_factory=lambda: DEFAULT_PERSONS)
    survivorship: Survivorship = Field(default_factory=Survivorship)

    @model_validator(mode="before")
    @classmethod
    def _over_defaults(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for section, default in (("companies", DEFAULT_COMPANIES), ("persons", DEFAULT_PERSONS)):
            given = merged.get(section)
            if isinstance(given, dict):
                merged[section] = default.model_dump() | given
        return merged

    def field_problems(self) -> list[tuple[str, str]]:
        """(key path, problem) for every field the rules name that the records do not have."""
        return [
            (f"identity.{section}.{path}", problem)
            for section, settings, known in (
                ("companies", self.companies, COMPANY_FIELDS),
                ("persons", self.persons, PERSON_FIELDS),
            )
            for path, problem in settings.check_fields(known, SET_FIELDS)
        ]
