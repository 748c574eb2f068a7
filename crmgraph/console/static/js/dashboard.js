// The dashboard (大屏): every report as figures and charts, filtered by period, owner, team, country and
// segment; a click on a figure or a bar lists the customers behind it (reportCustomers), each a link to its
// 360 page. The filters live in the URL (#/dashboard?from=...), so a view can be bookmarked and shared.

import { download, graphql, isForbidden } from "./api.js";
import { barChart } from "./charts.js";
import { amount, count, customerLink, h, hours, notice, share, show, table, when } from "./dom.js";
import { errorList, forbiddenPage } from "./problems.js";
import { DRILL, REPORTS, TITLES } from "./reports.js";

const FILTERS = ["from", "to", "ownerId", "team", "country", "segmentId"];
let refreshTimer = null; // the big screen's next refresh
const CHART_BARS = 10; // more bars than this are unreadable on a card; the table below lists them all
const PERIODS = { all: "All time", "30d": "Last 30 days", "90d": "Last 90 days", quarter: "This quarter", year: "This year", custom: "Custom" };

function day(date) {
  return date.toISOString().slice(0, 10);
}

function periodRange(period) {
  const now = new Date();
  const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const tomorrow = new Date(today.getTime() + 86_400_000);
  if (period === "30d" || period === "90d") {
    return { from: day(new Date(tomorrow.getTime() - Number.parseInt(period, 10) * 86_400_000)), to: day(tomorrow) };
  }
  if (period === "quarter") {
    return { from: day(new Date(Date.UTC(today.getUTCFullYear(), Math.floor(today.getUTCMonth() / 3) * 3, 1))), to: day(tomorrow) };
  }
  if (period === "year") return { from: day(new Date(Date.UTC(today.getUTCFullYear(), 0, 1))), to: day(tomorrow) };
  return { from: "", to: "" };
}

// The ReportFilter of the URL's parameters: dates as the start of their day, UTC.
export function reportFilter(params) {
  const filter = {};
  for (const name of FILTERS) {
    const value = (params.get(name) || "").trim();
    if (!value) continue;
    filter[name] = name === "from" || name === "to" ? `${value}T00:00:00Z` : name === "country" ? value.toUpperCase() : value;
  }
  return filter;
}

function filterForm(params, owners) {
  const field = (name, label, attributes = {}) =>
    h("label", {}, label, h("input", { name, value: params.get(name) || "", ...attributes }));
  const period = h("select", { name: "period" },
    Object.entries(PERIODS).map(([value, label]) => h("option", { value, selected: (params.get("period") || "all") === value }, label)));
  const form = h("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const chosen = data.get("period");
    const range = chosen === "custom" ? { from: data.get("from"), to: data.get("to") } : periodRange(chosen);
    const next = new URLSearchParams({ period: chosen, ...range });
    for (const name of ["ownerId", "team", "country", "segmentId", "refresh"]) {
      if (String(data.get(name) || "").trim()) next.set(name, String(data.get(name)).trim());
    }
    for (const [name, value] of [...next.entries()]) if (!value) next.delete(name);
    location.hash = `#/dashboard?${next}`;
  } },
  h("label", {}, "Period", period),
  field("from", "From", { type: "date" }),
  field("to", "To (exclusive)", { type: "date" }),
  field("ownerId", "Owner", { list: "owners", placeholder: "owner id", size: 10 }),
  owners,
  field("team", "Team", { placeholder: "e.g. emea", size: 10 }),
  field("country", "Country", { placeholder: "DE", size: 4, maxlength: 2 }),
  field("segmentId", "Segment", { placeholder: "segment id", size: 12 }),
  h("label", {}, "Refresh", h("select", { name: "refresh" },
    [["", "never"], ["60", "every minute"], ["300", "every 5 minutes"]].map(([value, label]) =>
      h("option", { value, selected: (params.get("refresh") || "") === value }, label)))),
  h("button", { type: "submit" }, "Apply"),
  h("a", { href: "#/dashboard", class: "reset" }, "Reset"),
  // The big screen (大屏): the dashboard alone on a wall display, refreshed as chosen.
  h("button", { type: "button", class: "link", onclick: () => document.documentElement.requestFullscreen?.() }, "Full screen"));
  return form;
}

export async function dashboard(container, { params }) {
  const filter = reportFilter(params);
  const every = Number.parseInt(params.get("refresh") || "", 10);
  clearTimeout(refreshTimer);
  if (every >= 30) {
    const shown = location.hash;
    // Asked again while the same dashboard is still shown (a hashchange re-renders it, same address).
    refreshTimer = setTimeout(() => { if (location.hash === shown) window.dispatchEvent(new HashChangeEvent("hashchange")); }, every * 1000);
  }
  const owners = h("datalist", { id: "owners" });
  const drill = h("aside", { id: "drill", class: "drill", hidden: true });
  const cards = Object.keys(REPORTS).map((name) => h("article", { class: "card", dataset: { report: name } },
    h("header", {}, h("h2", {}, TITLES[name]), h("span", { class: "freshness muted" }, "loading...")),
    h("div", { class: "body" }, h("p", { class: "muted" }, "Loading..."))));
  show(container,
    h("h1", {}, "Dashboard"),
    filterForm(params, owners),
    Object.keys(filter).length
      ? h("p", { class: "muted filter-summary" }, "Filtered: ", Object.entries(filter).map(([name, value]) => `${name} ${value}`).join(", "))
      : null,
    drill,
    h("div", { class: "grid" }, cards));

  const context = { filter, owners, openDrill: (token, label) => openDrill(drill, token, label) };
  const answers = await Promise.all(Object.keys(REPORTS).map((name) => graphql(REPORTS[name], { filter })));
  const forbidden = answers.every((answer) => !answer.data && isForbidden(answer.errors));
  if (forbidden) {
    show(container, h("h1", {}, "Dashboard"), forbiddenPage("the reports", answers[0].errors));
    return;
  }
  Object.keys(REPORTS).forEach((name, index) => renderCard(cards[index], name, answers[index], context));
}

function renderCard(card, name, { data, errors }, context) {
  // The documents alias each report as `report`: its errors name it as the graph does (salesFunnel.winRate).
  const answer = { data, errors: errors.map((error) => (error.path && error.path[0] === "report" ? { ...error, path: [name, ...error.path.slice(1)] } : error)) };
  const body = card.querySelector(".body");
  const freshness = card.querySelector(".freshness");
  const report = answer.data && answer.data.report;
  if (!report) {
    freshness.textContent = "";
    show(body, isForbidden(answer.errors) ? forbiddenPage(`the ${TITLES[name].toLowerCase()}`, answer.errors) : errorList(answer.errors));
    return;
  }
  const asOf = report.freshness && report.freshness.asOf;
  freshness.textContent = asOf ? `data as of ${when(asOf)} UTC` : "not loaded yet (crmgraph reports rebuild)";
  if (report.freshness) freshness.title = report.freshness.parts.map((part) => `${part.name}: ${part.rows} rows, loaded ${when(part.loadedAt)}`).join("\n");
  const exports = h("div", { class: "exports" }, "Export: ",
    ["csv", "png", "pdf"].map((extension) => h("button", { type: "button", class: "link", dataset: { export: extension }, onclick: async (event) => {
      const query = new URLSearchParams(context.filter); // the file holds what the card shows
      try {
        await download(`/reports/${name}.${extension}?${query}`, `${name}.${extension}`);
      } catch (error) {
        event.target.after(notice("error", String(error.message || error)));
      }
    } }, extension.toUpperCase())));
  show(body, errorList(answer.errors), RENDER[name](report, context), exports);
}

function figure(key, label, value, token, context, drillLabel) {
  const content = [h("span", { class: "value" }, value), h("span", { class: "label" }, label)];
  if (!token) return h("div", { class: "figure", dataset: { figure: key } }, content);
  return h("button", { type: "button", class: "figure drillable", dataset: { figure: key, drill: token },
    title: "List the customers behind this figure", onclick: () => context.openDrill(token, drillLabel || label) }, content);
}

function chartBox(draw) {
  const canvas = h("canvas", {});
  const box = h("div", { class: "chart" }, canvas);
  requestAnimationFrame(() => draw(canvas)); // drawn once in the page, so Chart.js knows the box's size
  return box;
}

function drillRow(cells, token, label, context) {
  return h("tr", { class: token ? "drillable" : null, dataset: token ? { drill: token } : {},
    onclick: token ? () => context.openDrill(token, label) : null }, cells.map((cell) => h("td", {}, cell)));
}

const RENDER = {
  salesFunnel(report, context) {
    const { currency } = report;
    show(context.owners, report.owners.map((owner) => h("option", { value: owner.ownerId }, owner.owner ? owner.owner.name : owner.ownerId)));
    return [
      h("div", { class: "figures" },
        figure("deals", "deals", count(report.deals), report.drillDown, context, "Every deal in the funnel"),
        figure("won", "won", count(report.won), null, context),
        figure("lost", "lost", count(report.lost), null, context),
        figure("winRate", "win rate", share(report.winRate), null, context)),
      chartBox((canvas) => barChart(canvas, {
        labels: report.stages.map((stage) => stage.stage),
        datasets: [{ label: "reached", data: report.stages.map((stage) => stage.reached) },
          { label: "in it now", data: report.stages.map((stage) => stage.current) }],
        horizontal: true,
        onPick: (index) => context.openDrill(report.stages[index].drillDown, `Deals that reached ${report.stages[index].stage}`),
      })),
      table(["Stage", "Reached", "Now", `Amount (${currency})`, "To next", "Median days to next"],
        report.stages.map((stage) => drillRow([stage.stage, count(stage.reached), count(stage.current), amount(stage.amount),
          share(stage.conversionToNext), stage.medianDaysToNext === null ? "–" : stage.medianDaysToNext.toFixed(1)],
        stage.drillDown, `Deals that reached ${stage.stage}`, context))),
      h("h3", {}, "By owner"),
      scrolling(table(["Owner", "Open", "Won", "Lost", `Won (${currency})`, "Win rate"],
        report.owners.map((owner) => drillRow([owner.owner ? owner.owner.name : owner.ownerId, count(owner.open), count(owner.won),
          count(owner.lost), amount(owner.wonAmount), share(owner.winRate)],
        owner.drillDown, `Deals of ${owner.owner ? owner.owner.name : owner.ownerId}`, context)))),
    ];
  },

  serviceReport(report, context) {
    const sla = (key, title, figureOf) => [
      figure(`${key}Median`, `${title}: median`, hours(figureOf.medianHours), figureOf.drillDown, context, `Tickets measured for ${title.toLowerCase()}`),
      figure(`${key}WithinSla`, `${title}: within SLA`, share(figureOf.withinSla), null, context),
      figure(`${key}Breached`, `${title}: breached`, count(figureOf.breached), null, context),
    ];
    return [
      h("div", { class: "figures" },
        figure("tickets", "tickets", count(report.tickets), report.drillDown, context, "Every ticket in the report"),
        sla("firstReply", "First reply", report.firstReply),
        sla("resolution", "Resolution", report.resolution)),
      chartBox((canvas) => barChart(canvas, {
        labels: report.byPriority.map((row) => row.key),
        datasets: [{ label: "first reply within SLA", data: report.byPriority.map((row) => pct(row.firstReply.withinSla)) },
          { label: "resolved within SLA", data: report.byPriority.map((row) => pct(row.resolution.withinSla)) }],
        percent: true,
        onPick: (index, dataset) => {
          const row = report.byPriority[index];
          context.openDrill(dataset === 0 ? row.firstReply.drillDown : row.resolution.drillDown, `${row.key} tickets`);
        },
      })),
      h("h3", {}, "Backlog (open now)"),
      table(["Group", "Open", "Past SLA", "Oldest"],
        report.backlog.map((row) => drillRow([row.key, count(row.open), count(row.pastSla), hours(row.oldestHours)],
          row.drillDown, `Open tickets of ${row.key}`, context))),
      h("h3", {}, "By group"),
      table(["Group", "Tickets", "First reply median", "within SLA", "Resolution median", "within SLA"],
        report.byGroup.map((row) => drillRow([row.key, count(row.tickets), hours(row.firstReply.medianHours), share(row.firstReply.withinSla),
          hours(row.resolution.medianHours), share(row.resolution.withinSla)], row.drillDown, `Tickets of ${row.key}`, context))),
    ];
  },

  campaignRoi(report, context) {
    const { currency } = report;
    const best = report.campaigns.slice(0, CHART_BARS); // the report lists the best ROI first
    return [
      h("div", { class: "figures" },
        figure("cost", `cost (${currency})`, amount(report.cost), null, context),
        figure("attributedRevenue", `attributed revenue (${currency})`, amount(report.attributedRevenue), null, context),
        figure("roi", "ROI", share(report.roi), null, context)),
      h("p", { class: "muted attribution" }, `Attribution: ${report.attribution}`),
      report.campaigns.length > CHART_BARS ? h("h3", {}, `The ${CHART_BARS} best by ROI`) : null,
      chartBox((canvas) => barChart(canvas, {
        labels: best.map((campaign) => campaign.name),
        datasets: [{ label: `cost (${currency})`, data: best.map((campaign) => Number(campaign.cost || 0)) },
          { label: `attributed revenue (${currency})`, data: best.map((campaign) => Number(campaign.attributedRevenue)) }],
        onPick: (index) => context.openDrill(best[index].drillDown, `Customers from ${best[index].name}`),
      })),
      scrolling(table(["Campaign", "Channel", "Leads", "Customers", "Won deals", `Attributed (${currency})`, "ROI"],
        report.campaigns.map((campaign) => drillRow([campaign.name, campaign.channel || "–", count(campaign.leads), count(campaign.customers),
          count(campaign.wonDeals), amount(campaign.attributedRevenue), share(campaign.roi)],
        campaign.drillDown, `Customers from ${campaign.name}`, context)))),
    ];
  },

  customerValueReport(report, context) {
    const { currency } = report;
    return [
      h("div", { class: "figures" },
        figure("customers", "customers", count(report.customers), null, context),
        figure("lifetimeRevenue", `lifetime revenue (${currency})`, amount(report.lifetimeRevenue), null, context),
        figure("predictedValue", `predicted, next ${report.horizonMonths} months (${currency})`, amount(report.predictedValue), null, context)),
      chartBox((canvas) => barChart(canvas, {
        labels: report.bands.map((band) => band.label),
        datasets: [{ label: "customers", data: report.bands.map((band) => band.customers) }],
        onPick: (index) => context.openDrill(report.bands[index].drillDown, `Customers valued ${report.bands[index].label}`),
      })),
      h("h3", {}, "Most valuable"),
      table(["Customer", `Lifetime (${currency})`, `Predicted (${currency})`, "P(alive)", "Orders"],
        report.top.map((row) => h("tr", {}, [customerLink(row.customer, row.customer ? row.customer.name : row.name), amount(row.lifetimeRevenue), amount(row.predictedValue),
          share(row.probabilityAlive), count(row.orders)].map((cell) => h("td", {}, cell))))),
    ];
  },

  churnRisk(report, context) {
    const { currency } = report;
    return [
      h("div", { class: "figures" },
        figure("atRisk", "customers at risk", count(report.atRisk), report.drillDown, context, "Customers at risk of churning"),
        figure("revenueAtRisk", `revenue at risk (${currency})`, amount(report.revenueAtRisk), null, context)),
      table(["Customer", "P(alive)", `Lifetime (${currency})`, "Days since last order", "Open complaints"],
        report.customers.map((row) => h("tr", {}, [customerLink(row.customer, row.customer ? row.customer.name : row.name), share(row.probabilityAlive), amount(row.lifetimeRevenue),
          count(row.daysSinceLastOrder), count(row.openComplaints)].map((cell) => h("td", {}, cell))))),
    ];
  },

  complaintsAgainstRevenue(report, context) {
    const { currency } = report;
    return [
      chartBox((canvas) => barChart(canvas, {
        labels: report.bands.map((band) => band.label),
        datasets: [{ label: "complaints", data: report.bands.map((band) => band.complaints) },
          { label: "customers complaining", data: report.bands.map((band) => band.customersComplaining) }],
        onPick: (index) => context.openDrill(report.bands[index].drillDown, `Customers in ${report.bands[index].label}`),
      })),
      table(["Revenue band", "Customers", `Revenue (${currency})`, "Complaints", "Complaining"],
        report.bands.map((band) => drillRow([band.label, count(band.customers), amount(band.revenue), count(band.complaints),
          count(band.customersComplaining)], band.drillDown, `Customers in ${band.label}`, context))),
    ];
  },
};

function scrolling(content) {
  return h("div", { class: "scroll" }, content);
}

function pct(value) {
  return value === null || value === undefined ? null : Math.round(value * 1000) / 10;
}

async function openDrill(panel, token, label, after = null, rows = []) {
  panel.hidden = false;
  if (!after) show(panel, h("h2", {}, label), h("p", { class: "muted" }, "Loading the customers..."));
  const { data, errors } = await graphql(DRILL, { drillDown: token, first: 20, after });
  const connection = data && data.reportCustomers;
  if (!connection) {
    show(panel, h("h2", {}, label), isForbidden(errors) ? forbiddenPage("this list", errors) : errorList(errors));
    return;
  }
  const all = rows.concat(connection.nodes.map((customer) => h("tr", { dataset: { customer: customer.id } },
    [customerLink(customer), customer.country || "–", customer.city || "–", customer.lifecycleStage || "–",
      customer.owner ? customer.owner.name : "–"].map((cell) => h("td", {}, cell)))));
  const more = connection.pageInfo.hasNextPage
    ? h("button", { type: "button", onclick: () => openDrill(panel, token, label, connection.pageInfo.endCursor, all) }, "More")
    : null;
  show(panel,
    h("header", {}, h("h2", {}, label), h("button", { type: "button", class: "close", onclick: () => { panel.hidden = true; } }, "Close")),
    h("p", { class: "muted drill-count" }, `${count(connection.totalCount)} customers`),
    errorList(errors),
    table(["Customer", "Country", "City", "Stage", "Owner"], all),
    more);
  panel.scrollIntoView({ block: "nearest" });
}
