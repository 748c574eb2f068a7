// The identity review queue: pairs of records that may be one company or person, strongest first, with the
// evidence of each comparison; a data steward accepts (joins) or rejects (keeps apart) each, with a reason.

import { graphql, isForbidden } from "./api.js";
import { count, customerLink, h, notice, share, show, table, when } from "./dom.js";
import { errorList, forbiddenPage } from "./problems.js";

const SIDE = `source { system recordId }
  party { name taxId domain email phone city country }
  person { name email phone }
  customer { id name }`;

const QUEUE = `query ReviewQueue($kind: MatchKind, $first: Int!, $after: String) {
  reviewCandidates(kind: $kind, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id kind probability weight reason keptApartBy createdAt
      left { ${SIDE} } right { ${SIDE} }
      evidence { field grade weight left right } }
  } }`;

const ACCEPT = `mutation Accept($input: ReviewCandidateAcceptInput!) {
  reviewCandidateAccept(input: $input) { acceptedCandidateId customer { id name } userErrors { field message code } } }`;
const REJECT = `mutation Reject($input: ReviewCandidateRejectInput!) {
  reviewCandidateReject(input: $input) { rejectedCandidateId userErrors { field message code } } }`;

export async function review(container, { params }) {
  const kind = params.get("kind") || null;
  const { data, errors } = await graphql(QUEUE, { kind, first: 20, after: null });
  const connection = data && data.reviewCandidates;
  const kinds = h("p", { class: "kinds" }, "Show: ",
    [["", "all"], ["COMPANY", "companies"], ["PERSON", "people"]].map(([value, label]) =>
      h("a", { href: value ? `#/review?kind=${value}` : "#/review", class: (kind || "") === value ? "current" : null }, label)).flatMap((link) => [link, " "]));
  if (!connection) {
    show(container, h("h1", {}, "Identity review queue"),
      isForbidden(errors) ? forbiddenPage("the review queue", errors) : errorList(errors));
    return;
  }
  show(container,
    h("h1", {}, "Identity review queue"),
    h("p", { class: "muted" }, `${count(connection.totalCount)} pairs wait for a data steward. Accept joins the two records; reject keeps them apart for good.`),
    kinds,
    errorList(errors),
    connection.nodes.length ? connection.nodes.map(candidateCard) : notice("info", "The queue is empty."));
}

function sideOf(side) {
  const record = side.party || side.person || {};
  return h("div", { class: "side" },
    h("div", { class: "source" }, `${side.source.system}:${side.source.recordId}`),
    h("strong", {}, record.name || "–"),
    h("dl", {}, ["taxId", "domain", "email", "phone", "city", "country"].filter((key) => record[key])
      .flatMap((key) => [h("dt", {}, key), h("dd", {}, record[key])])),
    side.customer ? h("div", {}, "Customer: ", customerLink(side.customer)) : null);
}

function candidateCard(candidate) {
  const reason = h("input", { name: "reason", placeholder: "why (kept with the decision)", size: 36, required: true });
  const outcome = h("div", { class: "outcome" });
  const decide = async (accept) => {
    if (!reason.value.trim()) {
      show(outcome, notice("error", "Say why: the reason is kept with the decision."));
      return;
    }
    const input = { id: candidate.id, reason: reason.value.trim() };
    const { data, errors } = await graphql(accept ? ACCEPT : REJECT, { input });
    const payload = data && (accept ? data.reviewCandidateAccept : data.reviewCandidateReject);
    if (!payload) {
      show(outcome, isForbidden(errors) ? forbiddenPage(accept ? "reviewCandidateAccept" : "reviewCandidateReject", errors) : errorList(errors));
      return;
    }
    if (payload.userErrors.length) {
      show(outcome, notice("error", payload.userErrors.map((error) => `${(error.field || []).join(".")}: ${error.message}`).join("; ")));
      return;
    }
    card.classList.add("decided");
    show(outcome, notice("info", accept ? ["Accepted: now one customer ", payload.customer ? customerLink(payload.customer) : ""] : "Rejected: kept apart."));
  };
  const card = h("article", { class: "candidate", dataset: { candidate: candidate.id } },
    h("header", {}, h("strong", {}, candidate.kind), ` · match ${share(candidate.probability)} (weight ${candidate.weight.toFixed(1)})`,
      ` · ${candidate.reason}${candidate.keptApartBy ? ` (${candidate.keptApartBy})` : ""}`, h("span", { class: "muted" }, ` · found ${when(candidate.createdAt)}`)),
    h("div", { class: "pair" }, sideOf(candidate.left), sideOf(candidate.right)),
    h("details", {}, h("summary", {}, "Evidence"),
      table(["Field", "Grade", "Weight", "Left", "Right"], candidate.evidence.map((item) =>
        h("tr", {}, [item.field, item.grade, item.weight.toFixed(2), item.left || "–", item.right || "–"].map((cell) => h("td", {}, cell)))))),
    h("form", { class: "decide", onsubmit: (event) => event.preventDefault() }, reason,
      h("button", { type: "button", class: "accept", onclick: () => decide(true) }, "Accept"),
      h("button", { type: "button", class: "reject", onclick: () => decide(false) }, "Reject")),
    outcome);
  return card;
}
