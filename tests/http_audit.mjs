// The graphql-http conformance audit (GraphQL over HTTP) against a running facade.
//
//   node tests/http_audit.mjs http://127.0.0.1:8000/graphql
//
// graphql-http is resolved from the folder GRAPHQL_HTTP_DIR names (tests/test_http_conformance.py installs it into a cached
// folder under var/). Prints one JSON object: counts per status and every audit that did not pass.
// A failing MUST is an "error", a failing SHOULD a "warn", a failing MAY a "notice".

import { createRequire } from "node:module";
import path from "node:path";

const url = process.argv[2];
if (!url) {
  console.error("usage: node tests/http_audit.mjs <graphql url>");
  process.exit(2);
}
const require = createRequire(path.resolve(process.env.GRAPHQL_HTTP_DIR ?? ".", "noop.js"));
const { auditServer } = require("graphql-http");

const results = await auditServer({ url });
const counts = { ok: 0, warn: 0, error: 0, notice: 0 };
const failures = [];
for (const result of results) {
  counts[result.status] += 1;
  if (result.status !== "ok") {
    failures.push({ id: result.id, name: result.name, status: result.status, reason: result.reason });
  }
}
console.log(JSON.stringify({ total: results.length, ...counts, failures }, null, 2));
