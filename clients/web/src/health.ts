// The stream-health panel: what the live subscription is doing, refreshed every second.
import type { Duration } from "@bufbuild/protobuf/wkt";
import { duration, ms } from "./format.js";

export interface Health {
  state: "idle" | "connecting" | "replaying" | "live" | "resuming" | "error";
  epoch: string;
  lastSeq: bigint | undefined;
  events: number;
  lagMs: number | undefined;
  /** When the stream last sent anything: events, or a heartbeat while idle. */
  lastMessageMs: number | undefined;
  feedAge: Duration | undefined;
  queueDepth: number | undefined;
  reconnects: number;
  dropped: bigint;
  gaps: number;
  outOfOrder: number;
}

export function renderHealth(panel: HTMLElement, health: Health): void {
  const values: Record<string, string> = {
    state: health.state,
    epoch: health.epoch === "" ? "-" : health.epoch,
    last_seq: health.lastSeq?.toString() ?? "-",
    events: health.events.toLocaleString("en-US"),
    lag: ms(health.lagMs),
    last_message: health.lastMessageMs === undefined ? "-" : ms(Date.now() - health.lastMessageMs),
    feed_age: duration(health.feedAge),
    queue: health.queueDepth?.toString() ?? "-",
    reconnects: String(health.reconnects),
    dropped: health.dropped.toString(),
    gaps: String(health.gaps),
    out_of_order: String(health.outOfOrder),
  };
  for (const [key, text] of Object.entries(values)) {
    const node = panel.querySelector<HTMLElement>(`[data-health="${key}"]`);
    if (node !== null && node.textContent !== text) node.textContent = text;
  }
  const pill = document.getElementById("connection");
  if (pill !== null && pill.dataset.state !== health.state && health.state !== "idle") {
    pill.dataset.state = health.state;
    pill.textContent = health.state;
  }
}
