// What went wrong, said on the page: FORBIDDEN as "your role may not", anything else with its code.

import { code } from "./api.js";
import { h, notice } from "./dom.js";

export function forbiddenPage(what, errors) {
  const messages = errors.filter((error) => code(error) === "FORBIDDEN").map((error) => error.message);
  return notice("forbidden", h("strong", {}, `Your role may not use ${what}.`), " ",
    messages.length ? `The graph answered: ${messages[0]}` : "");
}

// The errors of a partial answer, so the rest of the page still shows: a line for each kind of error, with
// the paths of the fields it nulled (the same refusal for twenty lookups is one line).
export function errorList(errors) {
  if (!errors || !errors.length) return null;
  const kinds = new Map();
  for (const error of errors) {
    const key = `${code(error)}\u0000${error.message}`;
    if (!kinds.has(key)) kinds.set(key, { error, paths: [] });
    kinds.get(key).paths.push(error.path ? error.path.join(".") : "query");
  }
  return notice("warning", h("ul", { class: "errors" }, [...kinds.values()].map(({ error, paths }) => {
    const label = code(error) === "FORBIDDEN" ? "hidden for your role" : code(error);
    const where = paths.length > 3 ? `${paths.slice(0, 3).join(", ")} and ${paths.length - 3} more` : paths.join(", ");
    return h("li", { dataset: { code: code(error) } }, h("code", {}, where), ` ${label}: ${error.message}`);
  })));
}

export function failure(error) {
  return notice("error", h("strong", {}, "The console could not load this page. "), String(error.message || error));
}
