// The live event stream: one StreamEvents subscription at a time, resumed with its last token after any
// interruption (error, rotation hint, server restart), with every replay, gap and drop shown, and the
// table of the newest events bounded in the DOM.
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Api } from "./api.js";
import { renderHealth, type Health } from "./health.js";
import { cell } from "./dom.js";
import { enumName, percent, price, time } from "./format.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  GapReason,
  RotateReason,
  type EventFilterSchema,
  type ResumeToken,
  type StreamEventsResponse,
} from "./gen/tickstock/v1/event_service_pb.js";
import { Direction, EventType, type Event } from "./gen/tickstock/v1/events_pb.js";

/** Rows kept in the table; older ones leave the DOM. */
const MAX_ROWS = 200;
/** Notices kept in the list. */
const MAX_NOTICES = 50;
/** Received seqs kept for inspection (window.tickstock.received), newest last. */
const MAX_RECEIVED = 100_000;
const BACKOFF_START_MS = 250;
const BACKOFF_MAX_MS = 10_000;

export interface Subscription {
  readonly filter?: MessageInitShape<typeof EventFilterSchema>;
  readonly presetName?: string;
}

export type FilterErrorHandler = (error: ConnectError) => void;

export class LiveEvents {
  readonly health: Health = {
    state: "idle",
    epoch: "",
    lastSeq: undefined,
    events: 0,
    lagMs: undefined,
    lastMessageMs: undefined,
    feedAge: undefined,
    queueDepth: undefined,
    reconnects: 0,
    dropped: 0n,
    gaps: 0,
    outOfOrder: 0,
  };
  /** (epoch, seq) of every event received in this page, oldest first, bounded by MAX_RECEIVED. */
  readonly received: Array<[string, string]> = [];
  private controller: AbortController | undefined;
  private pending: Event[] = [];
  private frame = 0;
  private generation = 0;

  constructor(
    private readonly api: Api,
    private readonly tbody: HTMLTableSectionElement,
    private readonly notices: HTMLOListElement,
    private readonly healthPanel: HTMLElement,
    private readonly onFilterError: FilterErrorHandler,
  ) {
    window.setInterval(() => renderHealth(this.healthPanel, this.health), 1000);
  }

  /** Replace the current subscription with a new one, starting at the live edge. */
  subscribe(subscription: Subscription): void {
    this.stop();
    const controller = new AbortController();
    this.controller = controller;
    this.tbody.replaceChildren();
    this.pending = [];
    const generation = ++this.generation;
    void this.run(subscription, controller.signal, generation);
  }

  stop(): void {
    this.controller?.abort();
    this.controller = undefined;
    this.setState("idle");
  }

  private async run(subscription: Subscription, signal: AbortSignal, generation: number): Promise<void> {
    let token: ResumeToken | undefined;
    let backoffMs = BACKOFF_START_MS;
    let first = true;
    while (!signal.aborted) {
      this.setState(first ? "connecting" : "resuming");
      try {
        const request = {
          filter: subscription.filter,
          presetName: subscription.presetName ?? "",
          resumeToken: token,
          includeSnapshot: false,
        };
        for await (const response of this.api.events.streamEvents(request, { signal })) {
          if (generation !== this.generation) return;
          token = this.handle(response, token);
          backoffMs = BACKOFF_START_MS;
        }
        // The server ended the stream (rotation hint or shutdown): resume at once.
        if (!signal.aborted) this.notice("info", "stream ended by the server; resuming");
      } catch (error) {
        if (signal.aborted) return;
        const connectError = ConnectError.from(error);
        if (connectError.code === Code.InvalidArgument || connectError.code === Code.NotFound) {
          this.setState("error");
          this.onFilterError(connectError);
          return;
        }
        if (connectError.code === Code.Unauthenticated || connectError.code === Code.PermissionDenied) {
          this.setState("error");
          return;
        }
        this.notice("error", `${Code[connectError.code]}: ${connectError.rawMessage}; resuming`);
        await sleep(backoffMs * (0.5 + Math.random()), signal);
        backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
      }
      first = false;
      if (!signal.aborted) this.health.reconnects += 1;
    }
  }

  /** Apply one response; returns the resume token to use from now on. */
  private handle(response: StreamEventsResponse, token: ResumeToken | undefined): ResumeToken | undefined {
    const payload = response.payload;
    this.health.lastMessageMs = Date.now();
    switch (payload.case) {
      case "subscriptionStatus": {
        const status = payload.value;
        this.setState(status.replaying ? "replaying" : "live");
        if (status.start !== undefined) this.health.epoch = status.start.epoch;
        return token ?? status.start;
      }
      case "eventBatch": {
        const batch = payload.value;
        this.accept(batch.events, batch.resumeToken?.epoch ?? this.health.epoch);
        return batch.resumeToken ?? token;
      }
      case "heartbeat": {
        const beat = payload.value;
        this.health.feedAge = beat.feedAge;
        this.health.queueDepth = beat.queueDepth;
        return token;
      }
      case "gapNotice": {
        const gap = payload.value;
        this.health.gaps += 1;
        this.notice(
          "gap",
          // An upper bound when a restart skipped seqs it may never have issued.
          `gap: ${gap.missedCountIsUpperBound ? "up to " : ""}${gap.missedCount} events (seq ${gap.fromSeq}-${gap.toSeq}) not available: ${enumName(GapReason, gap.reason)}`,
        );
        return token;
      }
      case "dropNotice": {
        const drop = payload.value;
        this.health.dropped = drop.totalDropped;
        this.notice("drop", `dropped ${drop.droppedCount} events (seq ${drop.firstDroppedSeq}-${drop.lastDroppedSeq}): the page fell behind`);
        return token;
      }
      case "rotateHint": {
        const hint = payload.value;
        this.notice("info", `server asks to reconnect (${enumName(RotateReason, hint.reason)})`);
        return hint.resumeToken ?? token;
      }
      case "replayCompleted": {
        const done = payload.value;
        this.setState("live");
        this.notice("replay", `resumed: ${done.replayedCount} missed events replayed`);
        return done.resumeToken ?? token;
      }
      case "snapshotChunk":
      case undefined:
        return token;
    }
  }

  private accept(events: readonly Event[], epoch: string): void {
    if (events.length === 0) return;
    if (epoch !== this.health.epoch && this.health.epoch !== "") {
      this.notice("gap", `new epoch ${epoch}: the server's event log restarted`);
      this.health.lastSeq = undefined;
    }
    this.health.epoch = epoch;
    for (const event of events) {
      if (this.health.lastSeq !== undefined && event.seq <= this.health.lastSeq) this.health.outOfOrder += 1;
      this.health.lastSeq = event.seq;
      this.received.push([epoch, event.seq.toString()]);
    }
    if (this.received.length > MAX_RECEIVED) this.received.splice(0, this.received.length - MAX_RECEIVED);
    this.health.events += events.length;
    const newest = events[events.length - 1];
    if (newest?.ingestTime !== undefined) this.health.lagMs = Date.now() - timestampMs(newest.ingestTime);
    this.pending.push(...events);
    if (this.pending.length > MAX_ROWS) this.pending.splice(0, this.pending.length - MAX_ROWS);
    if (this.frame === 0) this.frame = requestAnimationFrame(() => this.render());
  }

  private render(): void {
    this.frame = 0;
    const rows = this.pending.reverse().map(eventRow);
    this.pending = [];
    this.tbody.prepend(...rows);
    while (this.tbody.rows.length > MAX_ROWS) this.tbody.deleteRow(-1);
  }

  private setState(state: Health["state"]): void {
    this.health.state = state;
    renderHealth(this.healthPanel, this.health);
  }

  private notice(kind: string, text: string): void {
    const item = document.createElement("li");
    item.dataset.kind = kind;
    item.textContent = `${new Date().toISOString().slice(11, 19)} ${text}`;
    this.notices.prepend(item);
    while (this.notices.children.length > MAX_NOTICES) this.notices.lastElementChild?.remove();
  }
}

function eventRow(event: Event): HTMLTableRowElement {
  const row = document.createElement("tr");
  const type = enumName(EventType, event.type);
  const direction = enumName(Direction, event.direction);
  row.dataset.type = type;
  row.dataset.seq = event.seq.toString();
  row.dataset.symbol = event.symbol;
  cell(row, event.seq.toString(), "num");
  cell(row, time(event.eventTime));
  cell(row, event.symbol);
  cell(row, type);
  cell(row, direction).dataset.dir = direction;
  cell(row, price(event.price), "num");
  cell(row, percent(event.percentChange), "num");
  cell(row, event.label);
  return row;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = window.setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      window.clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
