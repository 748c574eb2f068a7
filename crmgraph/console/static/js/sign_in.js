// Sign in: as a demo role (when the facade's configuration offers them), or with a pasted token or API key.

import { h, notice, show } from "./dom.js";
import * as session from "./session.js";

async function demoRoles() {
  try {
    const response = await fetch("/console/demo-roles", { headers: { accept: "application/json" } });
    return response.ok ? await response.json() : { roles: [], unavailable: `HTTP ${response.status}` };
  } catch (error) {
    return { roles: [], unavailable: String(error) };
  }
}

export async function signInPage(container, done) {
  const message = h("div", { class: "sign-in-message" });
  const offered = await demoRoles();
  const roleButtons = offered.roles.map((found) =>
    h("li", {},
      h("button", { type: "button", class: "role", dataset: { role: found.role }, onclick: () => asRole(found.role) }, found.role),
      h("span", { class: "muted" }, ` ${found.description}`)));

  async function asRole(role) {
    show(message);
    const response = await fetch("/console/demo-token", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ role }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      show(message, notice("error", `No token for ${role}: ${body.error || response.status}`));
      return;
    }
    session.signIn(body.token, "demo role");
    done();
  }

  const pasted = h("textarea", { id: "credential", rows: 3, placeholder: "eyJ... (a JWT) or cg_... (an API key)", autocomplete: "off", spellcheck: "false" });
  const form = h("form", { class: "paste", onsubmit: async (event) => {
    event.preventDefault();
    const credential = pasted.value.trim().replace(/^Bearer\s+/i, "");
    if (!credential) {
      show(message, notice("error", "Paste a token or an API key first."));
      return;
    }
    session.signIn(credential, "pasted");
    // The facade is the judge: a credential it refuses signs out again with its reason.
    const check = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${credential}` },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    if (check.status === 401) {
      const body = await check.json().catch(() => ({}));
      session.signOut();
      show(message, notice("error", `The facade refused it: ${(body.errors && body.errors[0].message) || "401"}`));
      return;
    }
    done();
  } },
  h("label", { for: "credential" }, "A token or an API key"), pasted, h("button", { type: "submit" }, "Sign in"));

  show(container,
    h("section", { class: "sign-in" },
      h("h1", {}, "Sign in to the crmgraph console"),
      message,
      roleButtons.length
        ? h("div", { class: "demo-roles" }, h("h2", {}, "As a demo role"), h("ul", {}, roleButtons))
        : h("p", { class: "muted" }, `No demo roles here${offered.unavailable ? ` (${offered.unavailable})` : ""}.`),
      h("div", {}, h("h2", {}, "With a token or an API key"), form,
        h("p", { class: "muted" }, "Kept in this tab only (sessionStorage) until you sign out or close it."))));
}
