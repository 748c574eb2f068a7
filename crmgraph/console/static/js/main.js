// The console's entry: the header (who is signed in, sign-out) and the views, addressed by the URL's fragment.
//   #/sign-in  #/dashboard  #/customers?search=...  #/customer/<id>  #/review  #/routing

import { Unauthenticated } from "./api.js";
import { h, show } from "./dom.js";
import { failure } from "./problems.js";
import * as session from "./session.js";
import { customer360 } from "./customer360.js";
import { customers } from "./customers.js";
import { dashboard } from "./dashboard.js";
import { review } from "./review.js";
import { routing } from "./routing.js";
import { signInPage } from "./sign_in.js";

const VIEWS = { dashboard, customers, customer: customer360, review, routing };
const page = document.getElementById("page");
let shown = 0; // a view still loading when another is asked for must not overwrite it

function parse() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...rest] = path.split("/");
  return { name: name || "dashboard", argument: rest.map(decodeURIComponent).join("/"), params: new URLSearchParams(query) };
}

function header() {
  const who = session.who();
  document.getElementById("nav").hidden = !who;
  document.getElementById("sign-out").hidden = !who;
  const label = document.getElementById("who");
  show(label, who ? [h("span", { class: "subject" }, who.subject), who.roles.length ? ` (${who.roles.join(", ")})` : ""] : "");
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("current", link.dataset.nav === parse().name || (link.dataset.nav === "customers" && parse().name === "customer"));
  }
}

async function route() {
  const ticket = ++shown;
  const { name, argument, params } = parse();
  header();
  if (!session.token() || name === "sign-in") {
    document.title = "Sign in - crmgraph console";
    // Signed in, the page that was asked for opens (the dashboard when the sign-in page itself was).
    await signInPage(page, () => { if (name === "sign-in") location.hash = "#/dashboard"; else route(); });
    return;
  }
  const view = VIEWS[name];
  if (!view) {
    show(page, h("p", {}, `No page ${name}. `, h("a", { href: "#/dashboard" }, "The dashboard")));
    return;
  }
  const container = h("section", { class: `view view-${name}`, "aria-busy": "true" }, h("p", { class: "muted" }, "Loading..."));
  show(page, container);
  try {
    await view(container, { argument, params, current: () => ticket === shown });
  } catch (error) {
    if (error instanceof Unauthenticated) {
      location.hash = "#/sign-in";
      return;
    }
    if (ticket === shown) show(container, failure(error));
  } finally {
    container.setAttribute("aria-busy", "false");
  }
}

document.getElementById("sign-out").addEventListener("click", () => {
  session.signOut();
  location.hash = "#/sign-in";
});
window.addEventListener("hashchange", route);
route();
