// The customer 360 page: the golden record with the provenance of each field, every system's records
// (sources, contacts, leads, deals, orders, invoices, tickets) and the timeline across them. Two queries, so
// that the records' failure (a system down, a field denied) leaves the profile standing.

import { graphql, isForbidden } from "./api.js";
import { amount, count, h, money, notice, share, show, table, when } from "./dom.js";
import { errorList, forbiddenPage } from "./problems.js";

const PROFILE = `query Customer360($id: ID!) { customer(id: $id) {
  id name taxId domain email phone country city industry lifecycleStage tags
  owner { id name email }
  provenance { field value rule updatedAt source { system recordId linkedBy confidence } }
  sources { system recordId linkedBy confidence }
  lifetimeRevenue { amount currencyCode } outstandingBalance { amount currencyCode } openTicketCount lastOrderDate
} }`;

const RECORDS = `query Customer360Records($id: ID!) { customer(id: $id) {
  id
  contacts(first: 20) { totalCount nodes { id name email phone jobTitle sources { system recordId } } }
  leads { id name email stage points source { system recordId } }
  deals(first: 20) { totalCount nodes { id name stageLabel amount { amount currencyCode } closeDate owner { name } source { system recordId } } }
  orders(first: 20) { totalCount nodes { id number placedAt status total { amount currencyCode } source { system recordId } } }
  invoices(first: 20) { totalCount nodes { id number issuedAt gross { amount currencyCode } outstanding { amount currencyCode } source { system recordId } } }
  tickets(first: 20) { totalCount nodes { id number subject status priority createdAt source { system recordId } } }
  timeline(first: 40) { totalCount nodes { id kind occurredAt title summary source { system recordId } } }
} }`;

const GOLDEN = ["name", "taxId", "domain", "email", "phone", "country", "city", "industry", "lifecycleStage"];

function source(link) {
  return link ? h("span", { class: "source" }, `${link.system}:${link.recordId}`) : "–";
}

function money1(value) {
  return value ? amount(value.amount, value.currencyCode) : "–";
}

function section(title, total, content) {
  return h("section", { class: "records", dataset: { section: title.toLowerCase() } },
    h("h2", {}, title, total === null || total === undefined ? "" : h("span", { class: "muted" }, ` (${count(total)})`)), content);
}

export async function customer360(container, { argument }) {
  const [profile, records] = await Promise.all([graphql(PROFILE, { id: argument }), graphql(RECORDS, { id: argument })]);
  const customer = profile.data && profile.data.customer;
  if (!customer) {
    show(container, h("p", {}, h("a", { href: "#/customers" }, "← Customers")),
      isForbidden(profile.errors) ? forbiddenPage("this customer", profile.errors)
        : profile.errors.length ? errorList(profile.errors)
          : notice("warning", "No such customer (or not one your role may see)."));
    return;
  }
  const byField = new Map((customer.provenance || []).map((item) => [item.field, item]));
  const golden = table(["Field", "Value", "From", "Rule", "Changed there"], GOLDEN.map((field) => {
    const item = byField.get(field);
    return h("tr", { dataset: { field } }, h("th", {}, field), h("td", { class: "value" }, customer[field] ?? "–"),
      h("td", {}, item ? [source(item.source), item.source.linkedBy ? h("span", { class: "muted" }, ` ${item.source.linkedBy}`) : ""] : "–"),
      h("td", {}, item ? item.rule : "–"), h("td", {}, item ? when(item.updatedAt) : "–"));
  }));
  const facts = h("div", { class: "figures" },
    fact("lifetimeRevenue", "lifetime revenue", money(customer.lifetimeRevenue)),
    fact("outstandingBalance", "outstanding", money(customer.outstandingBalance)),
    fact("openTicketCount", "open tickets", count(customer.openTicketCount)),
    fact("lastOrderDate", "last order", when(customer.lastOrderDate)));
  const systems = table(["System", "Record", "Linked by", "Confidence"], customer.sources.map((link) =>
    h("tr", {}, [link.system, link.recordId, link.linkedBy || "–", share(link.confidence)].map((cell) => h("td", {}, cell)))));

  const found = records.data && records.data.customer;
  const list = (key) => (found && found[key] ? (found[key].nodes || found[key]) : null);
  const rows = (key, heading, cells) => {
    const items = list(key);
    if (items === null) return h("p", { class: "muted" }, "Not available (see the note above).");
    return table(heading, items.map((item) => h("tr", {}, cells(item).map((cell) => h("td", {}, cell)))));
  };
  const total = (key) => (found && found[key] && found[key].totalCount !== undefined ? found[key].totalCount : null);

  show(container,
    h("p", {}, h("a", { href: "#/customers" }, "← Customers")),
    h("h1", {}, customer.name || customer.id),
    h("p", { class: "muted" }, [customer.owner ? `Owner: ${customer.owner.name}` : "No owner", customer.tags.length ? ` · Tags: ${customer.tags.join(", ")}` : ""]),
    errorList(profile.errors),
    facts,
    h("div", { class: "columns" },
      section("Golden record and provenance", null, golden),
      section("Systems", customer.sources.length, systems)),
    errorList(records.errors),
    section("Timeline", total("timeline"), rows("timeline", ["When", "What", "", "Source"], (event) =>
      [when(event.occurredAt), event.kind, [h("strong", {}, event.title), event.summary ? ` ${event.summary}` : ""], source(event.source)])),
    h("div", { class: "columns" },
      section("Contacts", total("contacts"), rows("contacts", ["Name", "E-mail", "Phone", "Title", "Records"], (contact) =>
        [contact.name, contact.email || "–", contact.phone || "–", contact.jobTitle || "–", contact.sources.flatMap((link) => [source(link), h("br")])])),
      section("Leads", list("leads") ? list("leads").length : null, rows("leads", ["Name", "E-mail", "Stage", "Points", "Record"], (lead) =>
        [lead.name, lead.email || "–", lead.stage || "–", count(lead.points), source(lead.source)]))),
    h("div", { class: "columns" },
      section("Deals", total("deals"), rows("deals", ["Deal", "Stage", "Amount", "Close", "Owner", "Record"], (deal) =>
        [deal.name, deal.stageLabel, money1(deal.amount), when(deal.closeDate), deal.owner ? deal.owner.name : "–", source(deal.source)])),
      section("Tickets", total("tickets"), rows("tickets", ["#", "Subject", "Status", "Priority", "Opened", "Record"], (ticket) =>
        [ticket.number, ticket.subject, ticket.status, ticket.priority || "–", when(ticket.createdAt), source(ticket.source)]))),
    h("div", { class: "columns" },
      section("Orders", total("orders"), rows("orders", ["Number", "Placed", "Status", "Total", "Record"], (order) =>
        [order.number, when(order.placedAt), order.status, money1(order.total), source(order.source)])),
      section("Invoices", total("invoices"), rows("invoices", ["Number", "Issued", "Gross", "Outstanding", "Record"], (invoice) =>
        [invoice.number, when(invoice.issuedAt), money1(invoice.gross), money1(invoice.outstanding), source(invoice.source)]))));
}

function fact(key, label, value) {
  return h("div", { class: "figure", dataset: { figure: key } }, h("span", { class: "value" }, value), h("span", { class: "label" }, label));
}
