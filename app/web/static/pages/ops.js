// The ops dashboard: everything through the GraphQL API with the ops key the user typed (kept
// in this tab's sessionStorage). Lists and counters are re-read when orderEvents says
// something changed; the feed resumes after a restart from the last event seen (`after`).
import { LiveClient, day, el, gql, money, text } from "./live.js";

const $ = (id) => document.getElementById(id);
const KEY = "omsOpsKey";
const LAST_EVENT = "omsLastEventId";
const TAB = "omsOpsTab";
const STATES = ["READY", "PRE_ORDER", "BACKORDER"];

let key = sessionStorage.getItem(KEY);
let tab = sessionStorage.getItem(TAB) || "PRE_ORDER";
let filters = {};
let live = null;
let refreshTimer = null;
let chart = null;
let chartSku = null;
let forecastRows = [];

const api = (query, variables) => gql(query, variables, key);

// ------------------------------------------------------------------ log in
function showLogin(message = "") {
  $("dash").hidden = true;
  $("login").hidden = false;
  text($("login-error"), message);
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const typed = $("key").value.trim();
  try {
    await gql("query Check { opsKpis(windowDays: 1) { windowDays } }", {}, typed);
  } catch (err) {
    showLogin(err.code === "FORBIDDEN" ? "This key has no ops scope." : err.message);
    return;
  }
  key = typed;
  sessionStorage.setItem(KEY, key);
  $("key").value = "";
  start();
});

$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  key = null;
  live?.close();
  live = null;
  showLogin();
});

// ------------------------------------------------------------------ tabs and filters
for (const button of document.querySelectorAll(".tabs button")) {
  button.addEventListener("click", () => {
    tab = button.dataset.state;
    sessionStorage.setItem(TAB, tab);
    markTab();
    refreshLists();
  });
}

function markTab() {
  for (const button of document.querySelectorAll(".tabs button")) {
    button.setAttribute("aria-selected", String(button.dataset.state === tab));
  }
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  filters = {};
  for (const [name, value] of form.entries()) if (String(value).trim()) filters[name] = String(value).trim();
  refreshCounts();
  refreshLists();
});

// ------------------------------------------------------------------ counters and KPI tiles
const COUNTS = `
  query Counts($ready: OrderFilterInput, $pre: OrderFilterInput, $back: OrderFilterInput) {
    ready: orders(first: 0, filter: $ready) { totalCount }
    pre: orders(first: 0, filter: $pre) { totalCount }
    back: orders(first: 0, filter: $back) { totalCount }
  }`;

async function refreshCounts() {
  const f = (state) => ({ ...filters, state });
  const data = await api(COUNTS, { ready: f("READY"), pre: f("PRE_ORDER"), back: f("BACKORDER") });
  const counts = { READY: data.ready.totalCount, PRE_ORDER: data.pre.totalCount, BACKORDER: data.back.totalCount };
  for (const state of STATES) text($(`tab-${state}`).querySelector(".count"), counts[state]);
}

const KPIS = `
  query Kpis {
    opsKpis {
      windowDays unitsSold preorderUnits preorderSharePercent preorderShareTargetPercent
      preorderShareMeetsTarget promiseDeliveredLines promiseDeviationPercent promiseTargetPercent
      promiseMeetsTarget confirmedOrders latencyP50Seconds latencyP99Seconds latencyTargetSeconds
      latencyMeetsTarget slaOpenBreached slaDispatchedLate slaBreaches
      sellThrough { sku cap committed percent }
    }
  }`;

function tile(id, label, value, target, ok, detail) {
  return el(
    "div",
    { class: `tile ${ok ? "ok" : "bad"}`, id: `kpi-${id}` },
    el("span", { class: "label" }, label),
    el("strong", { class: "value" }, value),
    el("span", { class: "target" }, target),
    detail ? el("span", { class: "detail" }, detail) : null,
  );
}

const seconds = (s) =>
  s === null ? "–" : s < 120 ? `${s.toFixed(s < 10 ? 2 : 0)} s` : s < 7200 ? `${(s / 60).toFixed(0)} min` : `${(s / 3600).toFixed(0)} h`;

async function refreshKpis() {
  const { opsKpis: k } = await api(KPIS);
  const sell = k.sellThrough.map((s) => `${s.sku} ${s.committed}/${s.cap} (${s.percent} %)`).join(" · ");
  $("kpis").replaceChildren(
    tile("preorder-share", "Pre-order share", `${k.preorderSharePercent.toFixed(1)} %`, `target > ${k.preorderShareTargetPercent} %`,
      k.preorderShareMeetsTarget, `${k.preorderUnits} of ${k.unitsSold} units, ${k.windowDays} days`),
    tile("promise-accuracy", "Promise accuracy", `${k.promiseDeviationPercent.toFixed(1)} %`, `deviation target < ${k.promiseTargetPercent} %`,
      k.promiseMeetsTarget, `${k.promiseDeliveredLines} delivered lines`),
    tile("latency", "Confirmation p50 / p99", `${seconds(k.latencyP50Seconds)} / ${seconds(k.latencyP99Seconds)}`,
      `target < ${k.latencyTargetSeconds} s`, k.latencyMeetsTarget, `${k.confirmedOrders} orders`),
    tile("sla", "SLA breaches", String(k.slaBreaches), "target 0", k.slaBreaches === 0,
      `${k.slaOpenBreached} open past deadline, ${k.slaDispatchedLate} dispatched late`),
    tile("sell-through", "Sell-through per cap", k.sellThrough.length ? `${Math.max(...k.sellThrough.map((s) => s.percent))} %` : "–",
      "highest", true, sell || "no capped pre-order"),
  );
}

// ------------------------------------------------------------------ orders, queue, supply, shipments
const ORDERS = `
  query Orders($filter: OrderFilterInput) {
    orders(first: 100, filter: $filter) {
      nodes {
        number channel status tags placedAt total { amountMinor currency }
        lines { sku quantity state status queuePosition paused queuedAt deliveryEstimate { earliest latest } }
      }
    }
  }`;

const SUPPLY = `
  query Supply($sku: String) {
    supply(first: 100, sku: $sku, status: OPEN) {
      nodes { sku kind reference quantity remainingQuantity expectedOn }
    }
  }`;

const SHIPMENTS = `
  query Shipments($kind: FulfilmentKind!) {
    fulfilmentCounts { kind open onTime atRisk breached onHold }
    fulfilmentQueue(kind: $kind, first: 100) {
      nodes { number status urgency dispatchDeadline channel order { number } }
    }
  }`;

const window_ = (e) => (e?.earliest ? `${day(e.earliest)} – ${day(e.latest)}` : "");

async function refreshLists() {
  markTab();
  const [orders, supply, shipments] = await Promise.all([
    api(ORDERS, { filter: { ...filters, state: tab } }),
    api(SUPPLY, { sku: filters.sku || null }),
    api(SHIPMENTS, { kind: tab }),
  ]);
  renderOrders(orders.orders.nodes);
  const waiting = renderQueue(orders.orders.nodes);
  renderSupply(supply.supply.nodes, waiting);
  renderShipments(shipments);
}

function renderOrders(orders) {
  const rows = orders.map((o) =>
    el("tr", {},
      el("td", {}, o.number),
      el("td", {}, o.channel),
      el("td", {}, o.status),
      el("td", {}, o.lines.filter((l) => l.state === tab).map((l) => `${l.quantity}× ${l.sku} ${l.status.toLowerCase()}`).join(", ")),
      el("td", {}, o.tags.join(" ")),
      el("td", { class: "num" }, money(o.total)),
    ));
  $("orders").replaceChildren(
    rows.length
      ? el("table", { id: "orders-table" }, el("thead", {}, el("tr", {}, ...["Order", "Channel", "Status", "Lines", "Tags", "Total"].map((h) => el("th", {}, h)))), el("tbody", {}, rows))
      : el("p", { class: "empty" }, "No orders."),
  );
}

function renderQueue(orders) {
  const bySku = new Map();
  for (const o of orders) {
    for (const l of o.lines) {
      if (l.state !== tab || l.queuePosition === null) continue;
      if (!bySku.has(l.sku)) bySku.set(l.sku, []);
      bySku.get(l.sku).push({ ...l, order: o.number });
    }
  }
  const waiting = new Map();
  const blocks = [...bySku.entries()].sort().map(([sku, lines]) => {
    lines.sort((a, b) => a.queuePosition - b.queuePosition);
    waiting.set(sku, lines.reduce((n, l) => n + l.quantity, 0));
    return el("div", { class: "queue" },
      el("h3", {}, sku),
      el("ul", { class: "positions" }, lines.map((l) =>
        el("li", { class: l.paused ? "paused" : "" },
          el("span", { class: "pos" }, `#${l.queuePosition}`), ` ${l.order} · ${l.quantity} u`, l.deliveryEstimate?.earliest ? ` · ${window_(l.deliveryEstimate)}` : "",
          l.paused ? el("span", { class: "tag" }, " paused") : null))));
  });
  $("queue").replaceChildren(...(blocks.length ? blocks : [el("p", { class: "empty" }, tab === "READY" ? "READY lines never queue." : "Nobody waits.")]));
  return waiting;
}

function renderSupply(supply, waiting) {
  const bySku = new Map();
  for (const s of supply) {
    if (!bySku.has(s.sku)) bySku.set(s.sku, []);
    bySku.get(s.sku).push(s);
  }
  for (const sku of waiting.keys()) if (!bySku.has(sku)) bySku.set(sku, []);
  const blocks = [...bySku.entries()].sort().map(([sku, items]) => {
    items.sort((a, b) => a.expectedOn.localeCompare(b.expectedOn));
    const demand = waiting.get(sku) || 0;
    let cumulative = 0;
    const rows = items.map((s) => {
      cumulative += s.remainingQuantity;
      const covered = cumulative >= demand;
      return el("tr", { class: covered ? "ok" : "short" },
        el("td", {}, day(s.expectedOn)),
        el("td", {}, s.kind === "PURCHASE_ORDER" ? "PO" : "Run"),
        el("td", {}, s.reference),
        el("td", { class: "num" }, `+${s.remainingQuantity}`),
        el("td", { class: "num" }, `${cumulative} / ${demand}`));
    });
    const short = demand - cumulative;
    return el("div", { class: "timeline" },
      el("h3", {}, sku, el("span", { class: short > 0 ? "tag bad" : "tag" }, short > 0 ? ` short by ${short}` : " covered")),
      rows.length
        ? el("table", {}, el("thead", {}, el("tr", {}, ...["Due", "", "Ref", "Units", "Supply / waiting"].map((h) => el("th", {}, h)))), el("tbody", {}, rows))
        : el("p", { class: "empty" }, `No open supply for ${demand} waiting units.`));
  });
  $("supply").replaceChildren(...(blocks.length ? blocks : [el("p", { class: "empty" }, "No open supply.")]));
}

function renderShipments(data) {
  const count = data.fulfilmentCounts.find((c) => c.kind === tab);
  const stages = ["PICKING", "PACKED", "AWAITING_SHIPMENT", "ON_HOLD"];
  const summary = count
    ? el("p", { class: "summary" }, `${count.open} open · ${count.onTime} on time · `,
        el("span", { class: "at-risk" }, `${count.atRisk} at risk`), " · ",
        el("span", { class: "breached" }, `${count.breached} breached`), ` · ${count.onHold} on hold`)
    : el("p", { class: "summary" }, "No open shipments.");
  const columns = stages.map((stage) => {
    const items = data.fulfilmentQueue.nodes.filter((s) => s.status === stage);
    return el("div", { class: "stage" },
      el("h3", {}, `${stage.replace("_", " ").toLowerCase()} (${items.length})`),
      el("ul", {}, items.map((s) =>
        el("li", { class: (s.urgency || "").toLowerCase().replace("_", "-") },
          `${s.number} · ${s.order.number} · due ${new Date(s.dispatchDeadline).toLocaleString()}`))));
  });
  $("shipments").replaceChildren(summary, el("div", { class: "stages" }, columns));
}

// ------------------------------------------------------------------ demand and forecast
const FORECASTS = `
  query Forecasts {
    demandForecasts {
      sku computedAt method forecastStart forecast forecastUnits waitingUnits cap capRemaining openSupply flag
      history { date ready preOrder backorder }
    }
  }`;

async function refreshForecasts() {
  const { demandForecasts: rows } = await api(FORECASTS);
  forecastRows = rows;
  const body = rows.map((f) =>
    el("tr", { class: f.flag ? "flagged" : "", "data-sku": f.sku, onclick: () => drawChart(f.sku) },
      el("td", {}, f.sku),
      el("td", { class: "num" }, f.forecastUnits),
      el("td", { class: "num" }, f.capRemaining ?? "–"),
      el("td", { class: "num" }, f.openSupply),
      el("td", { class: "num" }, f.waitingUnits),
      el("td", {}, f.flag ? el("span", { class: "flag" }, f.flag === "OVER_CAP" ? "over the cap: raise the PO?" : "over supply: raise the PO?") : "ok")));
  $("forecasts").replaceChildren(
    rows.length
      ? el("table", { id: "forecast-table" }, el("thead", {}, el("tr", {}, ...["SKU", "Next 4 weeks", "Cap left", "Open supply", "Waiting", ""].map((h) => el("th", {}, h)))), el("tbody", {}, body))
      : el("p", { class: "empty" }, "No forecast yet (the FORECAST_DEMAND job computes them)."),
  );
  const pick = rows.find((r) => r.sku === chartSku) || rows.find((r) => r.flag) || rows[0];
  if (pick) drawChart(pick.sku);
}

function drawChart(sku) {
  const f = forecastRows.find((r) => r.sku === sku);
  if (!f || !window.uPlot) return;
  chartSku = sku;
  const ts = (iso) => Date.parse(`${iso}T00:00:00Z`) / 1000;
  const x = [...f.history.map((h) => ts(h.date)), ...f.forecast.map((_, i) => ts(f.forecastStart) + i * 86400)];
  const pad = (values, before, after) => [...Array(before).fill(null), ...values, ...Array(after).fill(null)];
  const n = f.history.length;
  const data = [
    x,
    pad(f.history.map((h) => h.ready), 0, f.forecast.length),
    pad(f.history.map((h) => h.preOrder), 0, f.forecast.length),
    pad(f.history.map((h) => h.backorder), 0, f.forecast.length),
    pad(f.forecast, n, 0),
  ];
  const target = $("chart");
  const width = Math.max(280, target.clientWidth - 8);
  const options = {
    title: `${sku}: units per day (forecast ${f.forecastUnits} in 4 weeks; cap left ${f.capRemaining ?? "–"}, open supply ${f.openSupply})`,
    width,
    height: 220,
    series: [
      {},
      { label: "READY", stroke: "#2f7d32" },
      { label: "PRE-ORDER", stroke: "#1565c0" },
      { label: "BACKORDER", stroke: "#ef6c00" },
      { label: "forecast", stroke: "#6a1b9a", dash: [6, 4] },
    ],
  };
  chart?.destroy();
  target.replaceChildren();
  chart = new window.uPlot(options, data, target);
}

// ------------------------------------------------------------------ dead letters
const DEAD_NOTIFICATIONS = `
  query DeadNotifications {
    notifications(first: 50, filter: { statuses: [DEAD, UNCONFIRMED] }) {
      nodes { id template status recipient attempts lastError createdAt }
    }
  }`;

const INTAKE_FAILURES = `
  query IntakeFailures {
    intakeFailures(first: 50) {
      edges { node { id channel externalId account status attempts errorCode errorMessage impactScore units value { amountMinor currency } slaDeadline receivedAt } }
    }
  }`;

async function retry(mutation, variables, button) {
  button.disabled = true;
  try {
    const data = await api(mutation, variables);
    const payload = Object.values(data)[0];
    if (payload.userErrors?.length) text(button, payload.userErrors[0].message);
    else text(button, "Retried");
  } catch (err) {
    text(button, err.message);
  }
  refreshDeadLetters();
}

async function refreshDeadLetters() {
  const sections = [];
  const { notifications } = await api(DEAD_NOTIFICATIONS);
  sections.push(el("h3", {}, `Notifications (${notifications.nodes.length})`));
  sections.push(notifications.nodes.length
    ? el("ul", { class: "dead" }, notifications.nodes.map((n) =>
        el("li", {}, `${n.template} to ${n.recipient} · ${n.status} after ${n.attempts} attempts · ${n.lastError || ""} `,
          el("button", { type: "button", onclick: (e) => retry(
            "mutation Retry($id: ID!) { retryNotification(input: { id: $id }) { notification { id status } userErrors { code message } } }",
            { id: n.id }, e.target) }, "Retry"))))
    : el("p", { class: "empty" }, "None."));
  try {
    const { intakeFailures } = await api(INTAKE_FAILURES);
    const nodes = intakeFailures.edges.map((e) => e.node);
    sections.push(el("h3", {}, `Intake (${nodes.length})`));
    sections.push(nodes.length
      ? el("ul", { class: "dead" }, nodes.map((m) =>
          el("li", {}, `${m.channel} ${m.externalId || ""} · ${m.status} · ${m.errorCode || ""} ${m.errorMessage || ""} · ${m.units ?? "?"} u ${money(m.value)} `,
            el("button", { type: "button", onclick: (e) => retry(
              "mutation RetryIntake($id: ID!) { retryIntake(input: { id: $id }) { message { id status } userErrors { field code message } } }",
              { id: m.id }, e.target) }, "Retry"))))
      : el("p", { class: "empty" }, "None."));
  } catch (err) {
    // an older server without channel intake: the section says so instead of failing
    sections.push(el("h3", {}, "Intake"), el("p", { class: "empty" }, "Intake dead letters are not available here."));
  }
  $("dead").replaceChildren(...sections);
}

// ------------------------------------------------------------------ live feed
const FEED = `
  subscription Feed($after: ID) {
    orderEvents(after: $after) { id kind at order { number channel } line { sku state } }
  }`;

function follow() {
  live = new LiveClient({
    connectionParams: { authorization: `Bearer ${key}` },
    onStatus: (status) => {
      text($("live"), status);
      if (status === "live") scheduleRefresh(true); // after a restart: catch up the lists too
    },
    onRefused: () => showLogin("The key was refused."),
  });
  live.subscribe(FEED, () => ({ after: sessionStorage.getItem(LAST_EVENT) }), {
    next: ({ data }) => {
      if (!data) return;
      const e = data.orderEvents;
      sessionStorage.setItem(LAST_EVENT, e.id);
      const feed = $("feed");
      feed.prepend(el("li", { "data-kind": e.kind },
        el("time", {}, new Date(e.at).toLocaleTimeString()), ` ${e.kind.toLowerCase().replaceAll("_", " ")} `,
        e.order ? `${e.order.number} (${e.order.channel})` : "", e.line ? ` ${e.line.sku} ${e.line.state}` : ""));
      while (feed.children.length > 50) feed.lastChild.remove();
      scheduleRefresh(e.kind.startsWith("NOTIFICATION") || e.kind.startsWith("INTAKE"));
    },
    error: (err) => text($("live"), err.message),
  });
}

function scheduleRefresh(all = false) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refreshAll(all), 250);
}

async function refreshAll(all = true) {
  try {
    const work = [refreshCounts(), refreshLists(), refreshKpis()];
    if (all) work.push(refreshForecasts(), refreshDeadLetters());
    await Promise.all(work);
  } catch (err) {
    if (err.code === "UNAUTHENTICATED" || err.code === "FORBIDDEN") showLogin(err.message);
    else text($("live"), `error: ${err.message}`);
  }
}

async function startingPoint() {
  // A first visit follows from the newest order's last event: a restart before any event
  // arrived still replays what it missed (a later visit resumes from the last event shown).
  if (sessionStorage.getItem(LAST_EVENT)) return;
  try {
    const data = await api("query Newest { orders(first: 1) { nodes { events { id } } } }");
    const events = data.orders.nodes[0]?.events ?? [];
    if (events.length) sessionStorage.setItem(LAST_EVENT, events[events.length - 1].id);
  } catch {
    // no starting point: the feed starts live
  }
}

async function start() {
  $("login").hidden = true;
  $("dash").hidden = false;
  markTab();
  refreshAll(true);
  await startingPoint();
  follow();
}

if (key) start();
else showLogin();
