"""Role policies decided per principal: fields denied or masked, customers in scope, mutations allowed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from crmgraph.policy.masking import HIDDEN, is_masked, mask
from crmgraph.policy.principal import Principal
from crmgraph.policy.roles import PolicyConfig, Visibility, decide

POLICY = PolicyConfig.model_validate(
    {
        "roles": {
            "admin": {"mutations": ["*"], "explain": True},
            "sales_rep": {"scope": [{"field": "owner_id", "attribute": "owner_id"}]},
            "regional": {"scope": [{"field": "country", "attribute": "countries"}]},
            "service_agent": {"deny": ["Invoice.total", "Invoice.outstanding"]},
            "marketing": {"mask": ["Contact.email", "Contact.phone", "Customer.taxId"], "deny": ["Invoice.total"]},
            "data_steward": {"mutations": ["customerMerge", "reviewCandidateAccept"]},
        }
    }
)


def _access(*roles: str, **attributes: object):  # type: ignore[no-untyped-def]
    return decide(Principal("p", frozenset(roles), "jwt", attributes), POLICY)


def test_fields_are_denied_or_masked_per_role_and_a_second_role_can_only_add() -> None:
    marketing = _access("marketing")
    assert marketing.visibility("Contact", "email") is Visibility.MASKED
    assert marketing.visibility("Invoice", "total") is Visibility.DENIED
    assert marketing.visibility("Contact", "name") is Visibility.CLEAR
    both = _access("marketing", "service_agent")
    assert both.visibility("Contact", "email") is Visibility.CLEAR, "the service agent reads it in clear"
    assert both.visibility("Invoice", "total") is Visibility.DENIED, "denied by both"
    assert both.visibility("Invoice", "outstanding") is Visibility.CLEAR, "marketing may read it"


def test_a_scope_admits_the_customers_it_names_and_a_role_without_one_admits_all() -> None:
    rep = _access("sales_rep", owner_id="77")
    assert rep.admits({"owner_id": "77", "country": "DE"}) and not rep.admits({"owner_id": "78"})
    assert not rep.admits({"owner_id": None}), "a customer without an owner is nobody's"
    assert not _access("sales_rep").admits({"owner_id": "77"}), "no owner_id attribute: nothing in scope"
    regional = _access("regional", countries=["DE", "FR"])
    assert regional.admits({"country": "FR"}) and not regional.admits({"country": "CN"})
    assert _access("sales_rep", "service_agent", owner_id="1").admits({"owner_id": "2"})


def test_mutations_and_explain_follow_the_roles_and_an_unknown_role_grants_nothing() -> None:
    assert _access("admin").may_run("customerSplit") and _access("admin").explain
    steward = _access("data_steward")
    assert steward.may_run("customerMerge") and not steward.may_run("customerSplit") and not steward.explain
    stranger = _access("intern")
    assert not stranger.known_role and not stranger.admits({"owner_id": "1"}) and not stranger.may_run("customerMerge")


def test_masked_values_keep_enough_to_recognise_and_are_marked() -> None:
    assert mask("email", "jane.doe@example.com") == "j•••@example.com"
    assert mask("phone", "+49 30 1234 5678") == "•••• 5678"
    assert mask("tax_id", "DE123456789") == HIDDEN and mask("email", None) is None
    assert all(is_masked(mask(kind, "x@y.z 12345678")) for kind in ("email", "phone", "tax_id"))
    assert not is_masked("jane.doe@example.com")


@pytest.mark.parametrize(
    ("roles", "words"),
    [
        ({"r": {"deny": ["email"]}}, "expected Type.field"),
        ({"r": {"scope": [{"field": "name", "attribute": "x"}]}}, "owner_id"),
        ({"r": {"masks": ["Contact.email"]}}, "Extra inputs"),
    ],
)
def test_a_bad_policy_names_the_key_and_what_was_expected(roles: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError) as bad:
        PolicyConfig.model_validate({"roles": roles})
    assert words in str(bad.value)
