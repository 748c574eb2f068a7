// The one way the console reads data: POST /graphql with the signed-in token. Every answer keeps its errors:
// a denied field is null with FORBIDDEN, and the page says so instead of going blank.

import * as session from "./session.js";

export class Unauthenticated extends Error {}

export async function graphql(query, variables = {}) {
  const headers = { "content-type": "application/json", accept: "application/json" };
  const credential = session.token();
  if (credential) headers.authorization = `Bearer ${credential}`;
  const response = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  if (response.status === 401) {
    session.signOut();
    throw new Unauthenticated(await reason(response, "the credential was refused"));
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new Error(`the facade answered ${response.status} without JSON`);
  }
  if (!response.ok && !body.data) {
    const message = body.errors ? body.errors.map((error) => error.message).join("; ") : `HTTP ${response.status}`;
    return { data: null, errors: body.errors || [{ message, extensions: { code: `HTTP_${response.status}` } }] };
  }
  return { data: body.data ?? null, errors: body.errors || [] };
}

async function reason(response, fallback) {
  try {
    const body = await response.json();
    return (body.errors && body.errors[0] && body.errors[0].message) || body.error || fallback;
  } catch {
    return fallback;
  }
}

export function code(error) {
  return (error.extensions && error.extensions.code) || "ERROR";
}

export function isForbidden(errors) {
  return errors.some((error) => code(error) === "FORBIDDEN");
}

// A file the facade serves only with credentials (the report exports): fetched with the token, then saved.
export async function download(path, filename) {
  const headers = {};
  const credential = session.token();
  if (credential) headers.authorization = `Bearer ${credential}`;
  const response = await fetch(path, { headers });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await reason(response, response.statusText)}`);
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
