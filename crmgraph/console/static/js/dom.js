// Building the page's elements without innerHTML: every value the graph answers is text, never markup.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function show(container, ...children) {
  container.replaceChildren();
  append(container, children);
}

export function table(headings, rows) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headings.map((heading) => h("th", {}, heading)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headings.length, class: "muted" }, "None."))));
}

export function notice(kind, ...children) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" || kind === "forbidden" ? "alert" : "status" },
    ...children);
}

const number = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });

export function count(value) {
  return value === null || value === undefined ? "–" : number.format(value);
}

export function amount(value, currency = "") {
  if (value === null || value === undefined) return "–";
  const formatted = number.format(Number(value));
  return currency ? `${formatted} ${currency}` : formatted;
}

export function hours(value) {
  return value === null || value === undefined ? "–" : `${decimal.format(value)} h`;
}

export function share(value) {
  return value === null || value === undefined ? "–" : `${decimal.format(value * 100)} %`;
}

export function when(value) {
  if (!value) return "–";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().slice(0, 16).replace("T", " ");
}

export function money(list) {
  if (!list || !list.length) return "–";
  return list.map((item) => amount(item.amount, item.currencyCode)).join(", ");
}

export function customerLink(customer, label) {
  if (!customer) return label || "–";
  return h("a", { href: `#/customer/${encodeURIComponent(customer.id)}` }, label || customer.name || customer.id);
}
