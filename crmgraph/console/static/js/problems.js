// What went wrong, said on the page: FORBIDDEN as "your role may not", anything else with its code.

import { code } from "./api.js";
import { h, notice } from "./dom.js";

export function forbiddenPage(what, errors) {
  const messages = errors.filter((error) => code(error) === "FORBIDDEN").map((error) => error.message);
  return notice("forbidden", h("strong", {}, `Your role may not use ${what}.`), " ",
    messages.length ? `The graph answered: ${messages[0]}` : "");
}

// The errors of a partial answer: a line each, with the field's path, so the rest of the page still shows.
export function errorList(errors) {
  if (!errors || !errors.length) return null;
  return notice("warning", h("ul", { class: "errors" }, errors.map((error) => {
    const where = error.path ? error.path.join(".") : "";
    const label = code(error) === "FORBIDDEN" ? "hidden for your role" : code(error);
    return h("li", {}, h("code", {}, where || "query"), ` ${label}: ${error.message}`);
  })));
}

export function failure(error) {
  return notice("error", h("strong", {}, "The console could not load this page. "), String(error.message || error));
}
