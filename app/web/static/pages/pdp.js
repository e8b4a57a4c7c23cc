// The PDP demo's script: the reference for storefront developers (docs/storefront.md).
// 1. Subscribe to availabilityChanged for the SKU, quantity, region and channel shown: the
//    first frame is the current answer, later frames come when it changes (someone bought the
//    last unit, stock arrived, a PO moved). Render the button and the promise from it only.
// 2. Place the order with the storefront key and an idempotency key (a retry is safe).
// 3. Show the customer's lines: state, place in line, delivery window.
import { LiveClient, day, el, gql, money, text } from "./live.js";

const page = document.body.dataset;
const sku = page.sku;
const channel = page.channel || null;
const storefrontKey = page.storefrontKey || null; // a storefront key, never an ops key
const $ = (id) => document.getElementById(id);

const AVAILABILITY = `
  subscription Pdp($sku: String!, $quantity: Int!, $region: String, $channel: String) {
    availabilityChanged(sku: $sku, quantity: $quantity, region: $region, channel: $channel) {
      state buttonLabel message availableQuantity capRemaining fulfillable
      deliveryEstimate { earliest latest reason }
      paymentTerms { kind depositPercent depositAmount { amountMinor currency } }
      split { state quantity }
    }
  }`;

const PLACE = `
  mutation Buy($input: PlaceOrderInput!) {
    placeOrder(input: $input) {
      orderToken
      order {
        number
        lines {
          sku quantity state status queuePosition unitsAhead
          deliveryEstimate { earliest latest }
        }
      }
      userErrors { field code message }
    }
  }`;

let current = null; // the last availability frame
let unsubscribe = null;
const live = new LiveClient({ onStatus: (status) => text($("live"), status) });

function windowText(estimate) {
  if (!estimate?.earliest) return estimate?.reason || "No date yet";
  if (estimate.earliest === estimate.latest) return day(estimate.earliest);
  return `${day(estimate.earliest)} – ${day(estimate.latest)}`;
}

function termsText(terms) {
  if (!terms) return "Paid at checkout";
  switch (terms.kind) {
    case "DEPOSIT":
      return terms.depositAmount
        ? `${money(terms.depositAmount)} deposit now, the rest when it ships`
        : `${terms.depositPercent} % deposit now, the rest when it ships`;
    case "AUTHORIZE":
      return "Card authorized now, charged when it ships";
    default:
      return "Paid in full at checkout";
  }
}

function render(a) {
  current = a;
  const button = $("buy");
  text(button, a.buttonLabel); // Add to cart / Pre-order / Backorder / Sold out
  button.dataset.state = a.state;
  button.disabled = a.state === "SOLD_OUT" || !a.fulfillable || !storefrontKey;
  text($("state"), a.state.replace("_", " "));
  $("state").dataset.state = a.state;
  text($("message"), a.message);
  const split = a.split.length > 1 ? ` (${a.split.map((s) => `${s.quantity} ${s.state.replace("_", " ").toLowerCase()}`).join(", ")})` : "";
  text($("window"), windowText(a.deliveryEstimate) + split);
  text($("cap"), a.capRemaining ?? "–");
  text($("terms"), termsText(a.paymentTerms));
}

function follow() {
  unsubscribe?.();
  const quantity = Math.max(1, Number.parseInt($("quantity").value, 10) || 1);
  const region = $("region").value || null;
  unsubscribe = live.subscribe(AVAILABILITY, { sku, quantity, region, channel }, {
    next: ({ data, errors }) => {
      if (errors?.length) return showError(errors[0].message);
      render(data.availabilityChanged);
    },
    error: (err) => showError(err.message),
  });
}

function showError(message) {
  text($("message"), message);
  $("buy").disabled = true;
}

function idempotencyKey() {
  return crypto.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

async function buy(event) {
  event.preventDefault();
  if (!current || !storefrontKey) return;
  const button = $("buy");
  button.disabled = true;
  const input = {
    idempotencyKey: idempotencyKey(),
    channel,
    customer: { email: $("email").value, name: $("customer").value },
    shippingAddress: { region: $("region").value || null },
    lines: [{ sku, quantity: Math.max(1, Number.parseInt($("quantity").value, 10) || 1) }],
  };
  try {
    const { placeOrder } = await gql(PLACE, { input }, storefrontKey);
    if (placeOrder.userErrors.length) {
      text($("message"), placeOrder.userErrors.map((e) => e.message).join(" "));
      return;
    }
    showOrder(placeOrder.order);
  } catch (err) {
    text($("message"), err.message);
  } finally {
    if (current) render(current);
  }
}

function showOrder(order) {
  text($("order-number"), order.number);
  const list = $("order-lines");
  list.replaceChildren(
    ...order.lines.map((line) =>
      el(
        "li",
        { class: "line", "data-state": line.state },
        `${line.quantity} × ${line.sku}: ${line.state.replace("_", " ").toLowerCase()}`,
        line.queuePosition ? el("strong", { class: "place" }, ` · number ${line.queuePosition} in line`) : null,
        line.deliveryEstimate ? ` · ${windowText(line.deliveryEstimate)}` : "",
      ),
    ),
  );
  $("placed").hidden = false;
}

async function loadProduct() {
  try {
    const data = await gql(
      `query Product($sku: String!) { product(sku: $sku) { name price { amountMinor currency } } carrierServices { region } }`,
      { sku },
    );
    if (data.product) {
      text($("name"), data.product.name);
      text($("price"), money(data.product.price));
    }
    const regions = [...new Set(data.carrierServices.map((c) => c.region))].sort();
    $("region").append(...regions.map((r) => el("option", { value: r }, r)));
  } catch (err) {
    text($("message"), err.message);
  }
}

$("no-key").hidden = Boolean(storefrontKey);
$("quantity").addEventListener("change", follow);
$("region").addEventListener("change", follow);
$("buy-form").addEventListener("submit", buy);
loadProduct();
follow();
