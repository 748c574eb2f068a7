// Customer search: names, domains, tax ids and e-mails (the graph's `customers(search:)`), a link to each 360.

import { graphql, isForbidden } from "./api.js";
import { count, customerLink, h, show, table } from "./dom.js";
import { errorList, forbiddenPage } from "./problems.js";

const SEARCH = `query Customers($search: String, $first: Int!, $after: String) {
  customers(search: $search, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id name domain country city lifecycleStage owner { name } openTicketCount }
  } }`;

export async function customers(container, { params }) {
  const search = params.get("search") || "";
  const input = h("input", { type: "search", name: "search", value: search, placeholder: "name, domain, tax id or e-mail", size: 40, autofocus: true });
  const form = h("form", { class: "search", role: "search", onsubmit: (event) => {
    event.preventDefault();
    const value = input.value.trim();
    location.hash = value ? `#/customers?search=${encodeURIComponent(value)}` : "#/customers";
  } }, input, h("button", { type: "submit" }, "Search"));
  const results = h("div", { class: "results" }, h("p", { class: "muted" }, "Loading..."));
  show(container, h("h1", {}, "Customers"), form, results);
  await page(results, search || null, null, []);
}

async function page(results, search, after, rows) {
  const { data, errors } = await graphql(SEARCH, { search, first: 25, after });
  const connection = data && data.customers;
  if (!connection) {
    show(results, isForbidden(errors) ? forbiddenPage("the customer list", errors) : errorList(errors));
    return;
  }
  const all = rows.concat(connection.nodes.map((customer) => h("tr", { dataset: { customer: customer.id } },
    [customerLink(customer), customer.domain || "–", customer.country || "–", customer.city || "–", customer.lifecycleStage || "–",
      customer.owner ? customer.owner.name : "–", count(customer.openTicketCount)].map((cell) => h("td", {}, cell)))));
  show(results,
    h("p", { class: "muted result-count" }, `${count(connection.totalCount)} customers${search ? ` matching "${search}"` : ""}`),
    errorList(errors),
    table(["Customer", "Domain", "Country", "City", "Stage", "Owner", "Open tickets"], all),
    connection.pageInfo.hasNextPage
      ? h("button", { type: "button", onclick: () => page(results, search, connection.pageInfo.endCursor, all) }, "More")
      : null);
}
