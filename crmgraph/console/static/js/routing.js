// The lead and ticket routing queues: the leads the rules took up (leadAssignments) and the tickets they routed
// (ticketRoutings), newest first, with who or where and the rule's explanation; the lead and the ticket
// themselves are read by id (node). A ticket can be looked up by number; a manager (leadReassign) can give a
// lead to another owner.

import { graphql, isForbidden } from "./api.js";
import { customerLink, h, notice, show, table, when } from "./dom.js";
import { errorList, forbiddenPage } from "./problems.js";

const LEAD_FIELDS = "... on Lead { id name company country stage createdAt customer { id name } }";
const TICKET_FIELDS = "... on Ticket { id number subject status priority createdAt customer { id name } }";
const ONE_TICKET = `query RoutingTicket($number: String!) { ticket(number: $number) {
  id number subject status priority createdAt customer { id name } } }`;
const EXPLANATION = "explanation { rule why trigger }";
const ASSIGNMENT = `state ownerId owner { name } team rule manual touched assignedAt firstTouchDueAt previousOwnerIds ${EXPLANATION}`;
const ROUTING = `state group assigneeId priority tags alertedOwnerId routedAt ${EXPLANATION}`;
const LEADS = `query RoutingLeads { leadAssignments(first: 20) { totalCount nodes { leadId ${ASSIGNMENT} } } }`;
const TICKETS = `query RoutingTickets { ticketRoutings(first: 20) { totalCount nodes { ticketId ${ROUTING} } } }`;
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
  const queue = data && data.leadAssignments;
  if (!queue) {
    show(section, h("h2", {}, "Lead assignment"), isForbidden(errors) ? forbiddenPage("the lead queue", errors) : errorList(errors)
      || notice("info", "No lead distribution here."));
    return;
  }
  const assignments = queue.nodes.slice(0, MAX_LOOKUPS);
  const { results: leads, errors: lookupErrors } = await lookUp("node", "id", assignments.map((a) => a.leadId), LEAD_FIELDS);
  show(section,
    h("h2", {}, "Lead assignment"),
    h("p", { class: "muted" }, `The newest of ${queue.totalCount} leads the rules took up, with who they went to and why.`),
    errorList(errors.concat(lookupErrors)),
    assignments.length ? table(["Lead", "Company", "Country", "Created", "State", "Owner", "Team", "Why", "First touch due", ""],
      assignments.map((assignment, index) => leadRow(leads[index] || { id: assignment.leadId, name: assignment.leadId }, assignment)))
      : notice("info", "No lead has been assigned yet: new leads arrive from the marketing system's webhooks."));
}

function leadRow(lead, assignment) {
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
    lead.customer ? customerLink(lead.customer, lead.name) : lead.name, lead.company || "–", lead.country || "–", when(lead.createdAt),
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
  const queue = data && data.ticketRoutings;
  if (!queue) {
    show(section, h("h2", {}, "Ticket routing"), form, single,
      isForbidden(errors) ? forbiddenPage("the ticket queue", errors) : errorList(errors));
    return;
  }
  const routings = queue.nodes.slice(0, MAX_LOOKUPS);
  const { results: found, errors: lookupErrors } = await lookUp("node", "id", routings.map((r) => r.ticketId), TICKET_FIELDS);
  const rows = routings.map((routing, index) => {
    const ticket = found[index] || { id: routing.ticketId, number: "–", subject: "–", status: "–" };
    return { ticket, customer: ticket.customer };
  });
  show(section,
    h("h2", {}, "Ticket routing"), form, single,
    h("p", { class: "muted" }, `The newest of ${queue.totalCount} tickets the rules routed, with where they went and why.`),
    errorList(errors.concat(lookupErrors)),
    routings.length ? ticketTable(rows, routings)
      : notice("info", "No ticket has been routed yet: new tickets arrive from the ticket system's webhooks."));
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
