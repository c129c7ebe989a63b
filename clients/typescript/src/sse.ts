// Reading `GET /api/trading/stream`: its Server-Sent Events parsed into the typed events the
// document describes (`StreamEvent`: `event`, `id`, and `data` a JSON text per event). A client
// that reconnects sends the last `id` it saw as `Last-Event-ID`; `event: reset` means events
// may have been missed, so re-read the orders.

import type { Schemas } from "./client.js";

/** One event of the stream, its `data` parsed. */
export type OrderStreamEvent =
  | { event: "reset"; id?: string; data: Schemas["StreamReset"] }
  | { event: "trading_disabled"; id?: string; data: Schemas["TradingDisabled"] }
  | { event: string; id: string; data: Schemas["TradeUpdate"] };

/** The events of `body` as they arrive (comments, such as the heartbeat, skipped). */
export async function* events(body: ReadableStream<Uint8Array>): AsyncGenerator<OrderStreamEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      const parsed = parseBlock(block);
      if (parsed) yield parsed;
    }
  }
}

function parseBlock(block: string): OrderStreamEvent | undefined {
  let event = "message";
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return undefined;
  const json: unknown = JSON.parse(data.join("\n"));
  if (event === "reset") return { event, id, data: json as Schemas["StreamReset"] };
  if (event === "trading_disabled") return { event, id, data: json as Schemas["TradingDisabled"] };
  if (id === undefined) throw new Error(`an order event without an id: ${event}`);
  return { event, id, data: json as Schemas["TradeUpdate"] };
}
