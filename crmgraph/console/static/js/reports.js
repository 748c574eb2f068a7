// The reports' GraphQL documents (the contract of docs/reports.md), one per report so that one failing
// report leaves the others on the dashboard.

const FRESHNESS = "freshness { asOf parts { name loadedAt changedAt rows } }";
const SLA = "measured medianHours p90Hours withinSla breached drillDown";

export const REPORTS = {
  salesFunnel: `query SalesFunnel($filter: ReportFilter) { report: salesFunnel(filter: $filter) {
    currency deals won lost winRate drillDown
    stages { stage reached current amount conversionToNext medianDaysToNext drillDown }
    owners { ownerId owner { name } open won lost wonAmount winRate drillDown }
    ${FRESHNESS} } }`,
  serviceReport: `query ServiceReport($filter: ReportFilter) { report: serviceReport(filter: $filter) {
    tickets drillDown
    firstReply { ${SLA} } resolution { ${SLA} }
    byPriority { key tickets drillDown firstReply { withinSla drillDown } resolution { withinSla drillDown } }
    byGroup { key tickets drillDown firstReply { withinSla medianHours } resolution { withinSla medianHours } }
    backlog { key open pastSla oldestHours drillDown }
    ${FRESHNESS} } }`,
  campaignRoi: `query CampaignRoi($filter: ReportFilter) { report: campaignRoi(filter: $filter) {
    currency attribution cost attributedRevenue roi
    campaigns { name channel cost leads customers wonDeals wonRevenue invoicedRevenue attributedRevenue roi drillDown }
    ${FRESHNESS} } }`,
  customerValueReport: `query CustomerValue($filter: ReportFilter) { report: customerValueReport(filter: $filter) {
    currency horizonMonths customers lifetimeRevenue predictedValue
    bands { label customers lifetimeRevenue predictedValue drillDown }
    top(first: 10) { customer { id name } name lifetimeRevenue predictedValue probabilityAlive orders }
    ${FRESHNESS} } }`,
  churnRisk: `query ChurnRisk($filter: ReportFilter) { report: churnRisk(filter: $filter) {
    currency atRisk revenueAtRisk drillDown
    customers(first: 10) { customer { id name } name probabilityAlive lifetimeRevenue daysSinceLastOrder openComplaints }
    ${FRESHNESS} } }`,
  complaintsAgainstRevenue: `query Complaints($filter: ReportFilter) { report: complaintsAgainstRevenue(filter: $filter) {
    currency bands { label customers revenue complaints customersComplaining drillDown }
    ${FRESHNESS} } }`,
};

export const TITLES = {
  salesFunnel: "Sales funnel",
  serviceReport: "Service: response and resolution against SLA",
  campaignRoi: "Campaign ROI",
  customerValueReport: "Customer value",
  churnRisk: "Churn risk",
  complaintsAgainstRevenue: "Complaints against revenue",
};

export const DRILL = `query Drill($drillDown: ID!, $first: Int!, $after: String) {
  reportCustomers(drillDown: $drillDown, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id name country city lifecycleStage owner { name } }
  } }`;
