// The API from a page: `gql` for queries and mutations over HTTP, `LiveClient` for
// subscriptions over the graphql-transport-ws protocol (the graphql-ws library's) on /graphql.
// No dependency: a storefront may copy this file as it is, or use the graphql-ws library.

export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code;
  }
}

export async function gql(query, variables = {}, key = null) {
  const headers = { "content-type": "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors?.length) throw new GraphQLError(body.errors);
  return body.data;
}

// One WebSocket for all of a page's subscriptions. It reconnects after a restart or a lost
// network (1 s, 2 s, 4 s … up to 10 s) and subscribes again; `variables` may be a function, so
// that a resumed subscription asks for what it missed (orderEvents' `after`).
const decoder = new TextDecoder();

export class LiveClient {
  constructor({ connectionParams = {}, onStatus = () => {}, onRefused = () => {} } = {}) {
    this.connectionParams = connectionParams;
    this.onStatus = onStatus;
    this.onRefused = onRefused;
    this.subscriptions = new Map();
    this.nextId = 1;
    this.retries = 0;
    this.closed = false;
    this.acked = false;
    this.open();
  }

  open() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(`${scheme}${location.host}/graphql`, "graphql-transport-ws");
    this.socket = socket;
    this.acked = false;
    socket.onopen = () => this.send({ type: "connection_init", payload: this.connectionParams });
    socket.binaryType = "arraybuffer"; // this server sends its JSON frames as bytes
    socket.onmessage = (event) => {
      const data = typeof event.data === "string" ? event.data : decoder.decode(event.data);
      this.received(JSON.parse(data));
    };
    socket.onerror = () => {}; // onclose follows and says what to do
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.acked = false;
      if (this.closed) return;
      if (event.code === 4403) {
        this.onStatus("refused");
        this.onRefused();
        return;
      }
      this.onStatus("reconnecting");
      const delay = Math.min(1000 * 2 ** this.retries, 10000);
      this.retries += 1;
      setTimeout(() => this.open(), delay);
    };
  }

  received(message) {
    const subscription = this.subscriptions.get(message.id);
    switch (message.type) {
      case "connection_ack":
        this.acked = true;
        this.retries = 0;
        this.onStatus("live");
        for (const [id, sub] of this.subscriptions) this.start(id, sub);
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      case "next":
        subscription?.next(message.payload);
        break;
      case "error":
        this.subscriptions.delete(message.id);
        subscription?.error?.(new GraphQLError(message.payload));
        break;
      case "complete":
        this.subscriptions.delete(message.id);
        subscription?.complete?.();
        break;
    }
  }

  send(message) {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  start(id, sub) {
    const variables = typeof sub.variables === "function" ? sub.variables() : sub.variables;
    this.send({ id, type: "subscribe", payload: { query: sub.query, variables } });
  }

  // subscribe(query, variables, { next, error, complete }) → a function that unsubscribes
  subscribe(query, variables, handlers) {
    const id = String(this.nextId++);
    const sub = { query, variables, ...handlers };
    this.subscriptions.set(id, sub);
    if (this.acked) this.start(id, sub);
    return () => {
      if (this.subscriptions.delete(id) && this.acked) this.send({ id, type: "complete" });
    };
  }

  close() {
    this.closed = true;
    this.socket.close(1000);
  }
}

export function text(element, value) {
  element.textContent = value ?? "";
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function money(m) {
  if (!m) return "";
  const digits = { JPY: 0, KRW: 0 }[m.currency] ?? 2;
  return new Intl.NumberFormat(undefined, { style: "currency", currency: m.currency }).format(
    m.amountMinor / 10 ** digits,
  );
}

export function day(iso) {
  if (!iso) return "";
  return new Date(`${iso}T00:00:00Z`).toLocaleDateString(undefined, {
    day: "numeric",
    month: "short",
    year: "numeric",
    timeZone: "UTC",
  });
}
