"""The example queries GraphiQL opens with (the README's first query among them)."""

from __future__ import annotations

from crmgraph.graphiql import Example

FIRST_QUERY = """{
  customers(first: 3, search: "Energy") {
    totalCount
    nodes {
      name country sources { system recordId }
      orders(first: 2) { nodes { number placedAt total { amount currencyCode } } }
      tickets(first: 2) { nodes { subject status } }
    }
  }
}"""

CUSTOMER_360 = """query Customer360($id: ID!) {
  customer(id: $id) {
    name country provenance { field rule source { system recordId } }
    contacts(first: 10) { nodes { name email phone } }
    deals(first: 5) { nodes { name stage amount { amount currencyCode } } }
    invoices(first: 5) { nodes { number outstanding { amount currencyCode } } }
    leads { name stage points campaigns { name channel } }
    timeline(first: 10) { nodes { kind occurredAt title source { system } } }
  }
}"""

CAMPAIGN_RESULTS = """{
  campaigns(first: 5) {
    nodes {
      name channel cost { amount currencyCode } startsAt endsAt
      leads(first: 5) { totalCount nodes { name stage customer { name } } }
      customers(first: 10) {
        totalCount
        nodes {
          name
          deals(first: 10) { nodes { stage amount { amount currencyCode } } }
          lifetimeRevenue { amount currencyCode }
        }
      }
    }
  }
}"""

REVIEW_QUEUE = """{
  reviewCandidates(first: 5) {
    nodes { probability reason evidence { field grade weight left right } }
  }
}"""

EXAMPLES = (
    Example("Customers with their orders and tickets", FIRST_QUERY),
    Example('One customer\'s 360: put an id from the first tab into the variables, as {"id": "..."}', CUSTOMER_360),
    Example("Campaigns: their leads, the customers those belong to, their deals and revenue", CAMPAIGN_RESULTS),
    Example("Pairs waiting for a data steward", REVIEW_QUEUE),
)
