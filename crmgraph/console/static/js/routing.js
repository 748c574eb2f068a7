// The lead and ticket routing queues: who each lead went to (leadAssignment) and where each ticket was routed
// (ticketRouting), with the rule's explanation. The graph has no list of all leads or tickets, so the page
// takes the leads of the newest campaigns and the newest tickets of the first customers, and looks a ticket up
// by number; a manager (leadReassign) can give a lead to another owner.

import { graphql, isForbidden } from "./api.js";
import { customerLink, h, notice, show, table, when } from "./dom.js";
import { errorList, forbiddenPage } from "./problems.js";

const LEADS = `query RoutingLeads { campaigns(first: 8) { nodes { name
  leads(first: 10) { nodes { id name company country stage createdAt customer { id name } } } } } }`;
const TICKETS = `query RoutingTickets { customers(first: 10) { nodes { id name
  tickets(first: 2) { nodes { id number subject status priority createdAt } } } } }`;
const ONE_TICKET = `query RoutingTicket($number: String!) { ticket(number: $number) {
  id number subject status priority createdAt customer { id name } } }`;
const EXPLANATION = "explanation { rule why trigger }";
const ASSIGNMENT = `state ownerId owner { name } team rule manual touched assignedAt firstTouchDueAt previousOwnerIds ${EXPLANATION}`;
const ROUTING = `state group assigneeId priority tags alertedOwnerId routedAt ${EXPLANATION}`;
const REASSIGN = `mutation Reassign($input: LeadReassignInput!) { leadReassign(input: $input) {
  assignment { ${ASSIGNMENT} } userErrors { field message code } } }`;
const MAX_LOOKUPS = 20; // one root field a lead or ticket: the graph's limit on root fields is 20

// One query asking the same root field for many ids, by alias: a0: leadAssignment(leadId: $v0) {...}.
async function lookUp(field, argument, ids, selection) {
  if (!ids.length) return { results: [], errors: [] };
  const variables = Object.fromEntries(ids.map((id, index) => [`v${index}`, id]));
  const declarations = ids.map((_, index) => `$v${index}: ID!`).join(", ");
  const fields = ids.map((_, index) => `a${index}: ${field}(${argument}: $v${index}) { ${selection} }`).join("\n");
  const { data, errors } = await graphql(`query Lookup(${declarations}) { ${fields} }`, variables);
  return { results: ids.map((_, index) => (data ? data[`a${index}`] : null)), errors };
}

export async function routing(container) {
  const leads = h("section", { class: "queue", dataset: { queue: "leads" } }, h("h2", {}, "Lead assignment"), h("p", { class: "muted" }, "Loading..."));
  const tickets = h("section", { class: "queue", dataset: { queue: "tickets" } }, h("h2", {}, "Ticket routing"), h("p", { class: "muted" }, "Loading..."));
  show(container, h("h1", {}, "Routing queues"), leads, tickets);
  await Promise.all([leadQueue(leads), ticketQueue(tickets)]);
}

async function leadQueue(section) {
  const { data, errors } = await graphql(LEADS);
  const campaigns = data && data.campaigns;
  if (!campaigns) {
    show(section, h("h2", {}, "Lead assignment"), isForbidden(errors) ? forbiddenPage("the lead queue", errors) : errorList(errors)
      || notice("info", "No marketing system answers here."));
    return;
  }
  const seen = new Map();
  for (const campaign of campaigns.nodes) {
    for (const lead of (campaign.leads && campaign.leads.nodes) || []) if (!seen.has(lead.id)) seen.set(lead.id, { lead, campaign: campaign.name });
  }
  const found = [...seen.values()].slice(0, MAX_LOOKUPS);
  const { results, errors: lookupErrors } = await lookUp("leadAssignment", "leadId", found.map((item) => item.lead.id), ASSIGNMENT);
  show(section,
    h("h2", {}, "Lead assignment"),
    h("p", { class: "muted" }, `The leads of the newest campaigns (${found.length}), with who they went to and why.`),
    errorList(errors.concat(lookupErrors)),
    table(["Lead", "Company", "Country", "Campaign", "State", "Owner", "Team", "Why", "First touch due", ""],
      found.map(({ lead, campaign }, index) => leadRow(lead, campaign, results[index]))));
}

function leadRow(lead, campaign, assignment) {
  const owner = h("input", { name: "ownerId", placeholder: "owner id", size: 9 });
  const outcome = h("span", { class: "outcome" });
  const reassign = h("form", { class: "reassign", onsubmit: async (event) => {
    event.preventDefault();
    const input = { leadId: lead.id, ownerId: owner.value.trim(), reason: "reassigned in the console" };
    const { data, errors } = await graphql(REASSIGN, { input });
    const payload = data && data.leadReassign;
    if (!payload) show(outcome, isForbidden(errors) ? forbiddenPage("leadReassign", errors) : errorList(errors));
    else if (payload.userErrors.length) show(outcome, notice("error", payload.userErrors.map((error) => error.message).join("; ")));
    else show(outcome, notice("info", `Now ${payload.assignment.owner ? payload.assignment.owner.name : payload.assignment.ownerId}.`));
  } }, owner, h("button", { type: "submit" }, "Reassign"), outcome);
  return h("tr", { dataset: { lead: lead.id } }, [
    lead.customer ? customerLink(lead.customer, lead.name) : lead.name, lead.company || "–", lead.country || "–", campaign,
    assignment ? assignment.state : "not assigned",
    assignment ? (assignment.owner ? assignment.owner.name : assignment.ownerId || "–") : "–",
    assignment ? assignment.team || "–" : "–",
    assignment ? `${assignment.rule || assignment.explanation.rule}: ${assignment.explanation.why}` : "–",
    assignment ? when(assignment.firstTouchDueAt) : "–",
    reassign,
  ].map((cell) => h("td", {}, cell)));
}

async function ticketQueue(section) {
  const { data, errors } = await graphql(TICKETS);
  const customers = data && data.customers;
  const lookup = h("input", { name: "number", placeholder: "ticket number", size: 10 });
  const single = h("div", { class: "single" });
  const form = h("form", { class: "lookup", onsubmit: async (event) => {
    event.preventDefault();
    const answer = await graphql(ONE_TICKET, { number: lookup.value.trim() });
    const ticket = answer.data && answer.data.ticket;
    if (!ticket) {
      show(single, answer.errors.length ? errorList(answer.errors) : notice("warning", `No ticket ${lookup.value.trim()}.`));
      return;
    }
    const routed = await lookUp("ticketRouting", "ticketId", [ticket.id], ROUTING);
    show(single, errorList(routed.errors), ticketTable([{ ticket, customer: ticket.customer }], routed.results));
  } }, h("label", {}, "Look a ticket up ", lookup), h("button", { type: "submit" }, "Show its routing"));
  if (!customers) {
    show(section, h("h2", {}, "Ticket routing"), form, single,
      isForbidden(errors) ? forbiddenPage("the ticket queue", errors) : errorList(errors));
    return;
  }
  const found = customers.nodes.flatMap((customer) =>
    ((customer.tickets && customer.tickets.nodes) || []).map((ticket) => ({ ticket, customer }))).slice(0, MAX_LOOKUPS);
  const { results, errors: lookupErrors } = await lookUp("ticketRouting", "ticketId", found.map((item) => item.ticket.id), ROUTING);
  show(section,
    h("h2", {}, "Ticket routing"), form, single,
    h("p", { class: "muted" }, `The newest tickets of the first customers (${found.length}), with where they were routed and why.`),
    errorList(errors.concat(lookupErrors)),
    ticketTable(found, results));
}

function ticketTable(found, results) {
  return table(["#", "Subject", "Customer", "Status", "Opened", "Group", "Assignee", "Priority", "Tags", "Why"],
    found.map(({ ticket, customer }, index) => {
      const routed = results[index];
      return h("tr", { dataset: { ticket: ticket.number } }, [
        ticket.number, ticket.subject, customerLink(customer), ticket.status, when(ticket.createdAt),
        routed ? routed.group || "–" : "not routed", routed ? routed.assigneeId || "–" : "–",
        routed ? routed.priority || ticket.priority || "–" : ticket.priority || "–", routed ? routed.tags.join(", ") : "–",
        routed ? `${routed.explanation.rule}: ${routed.explanation.why}` : "–",
      ].map((cell) => h("td", {}, cell)));
    }));
}
