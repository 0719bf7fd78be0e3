// Alert subscriptions (create, list, delete) and the alert stream, followed while signed in.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Api } from "./api.js";
import { UNARY_TIMEOUT_MS } from "./api.js";
import { button, cell } from "./dom.js";
import { clearErrors, showError } from "./errors.js";
import { price } from "./format.js";
import { field, list, optionalNumber, selectedValues } from "./forms.js";
import type { AlertSubscription, StreamAlertsResponse } from "./gen/tickstock/v1/pattern_service_pb.js";

const MAX_ALERTS = 100;
const RETRY_MS = 3_000;

export class AlertsView {
  private stream: AbortController | undefined;

  constructor(
    private readonly api: Api,
    private readonly form: HTMLFormElement,
    private readonly table: HTMLTableSectionElement,
    private readonly alerts: HTMLOListElement,
    private readonly state: HTMLElement,
  ) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.create();
    });
  }

  async refresh(): Promise<void> {
    try {
      const answer = await this.api.patterns.listAlertSubscriptions({}, { timeoutMs: UNARY_TIMEOUT_MS });
      this.table.replaceChildren(...answer.subscriptions.map((subscription) => this.row(subscription)));
    } catch (error) {
      showError(this.form, error);
    }
  }

  /** Follow the alert stream until `stop()`, reconnecting after interruptions. */
  follow(): void {
    this.stop();
    const controller = new AbortController();
    this.stream = controller;
    void this.run(controller.signal);
  }

  stop(): void {
    this.stream?.abort();
    this.stream = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        this.state.textContent = "connecting";
        for await (const response of this.api.patterns.streamAlerts({}, { signal })) {
          this.state.textContent = "live";
          this.show(response);
        }
      } catch (error) {
        if (signal.aborted) return;
        const connectError = ConnectError.from(error);
        this.state.textContent = `${Code[connectError.code]}: ${connectError.rawMessage}`;
        if (connectError.code === Code.Unauthenticated) return;
      }
      await new Promise((resolve) => window.setTimeout(resolve, RETRY_MS));
    }
  }

  private show(response: StreamAlertsResponse): void {
    const payload = response.payload;
    let text: string;
    if (payload.case === "alert") {
      const pattern = payload.value.pattern;
      text = `${pattern?.symbol ?? "?"} ${pattern?.details?.patternType ?? ""} at ${price(pattern?.price ?? 0)} ` +
        `(confidence ${(pattern?.details?.confidence ?? 0).toFixed(2)})`;
    } else if (payload.case === "suppressed") {
      const s = payload.value;
      text = `suppressed for ${s.subscriptionId}: ${s.quietHoursCount} in quiet hours, ${s.rateLimitedCount} over the hourly limit`;
    } else {
      return;
    }
    const item = document.createElement("li");
    item.dataset.kind = payload.case;
    item.textContent = `${new Date().toISOString().slice(11, 19)} ${text}`;
    this.alerts.prepend(item);
    while (this.alerts.children.length > MAX_ALERTS) this.alerts.lastElementChild?.remove();
  }

  private async create(): Promise<void> {
    const form = this.form;
    const start = field(form, "quiet_start").value;
    const end = field(form, "quiet_end").value;
    try {
      await this.api.patterns.createAlertSubscription(
        {
          subscription: {
            patternTypes: list(form, "pattern_types", false),
            symbols: list(form, "symbols"),
            universes: selectedValues(form, "universes"),
            minConfidence: optionalNumber(form, "min_confidence") ?? 0,
            quietHours: start !== "" && end !== "" ? { start: timeOfDay(start), end: timeOfDay(end) } : undefined,
            timeZone: field(form, "time_zone").value.trim(),
            maxAlertsPerHour: optionalNumber(form, "max_alerts_per_hour") ?? 0,
          },
        },
        { timeoutMs: UNARY_TIMEOUT_MS },
      );
      clearErrors(form);
      form.reset();
      await this.refresh();
    } catch (error) {
      showError(form, error);
    }
  }

  private row(subscription: AlertSubscription): HTMLTableRowElement {
    const row = document.createElement("tr");
    row.dataset.subscriptionId = subscription.subscriptionId;
    cell(row, subscription.patternTypes.join(", ") || "any");
    cell(row, subscription.symbols.join(", ") || "any");
    cell(row, subscription.universes.join(", ") || "-");
    cell(row, subscription.minConfidence.toFixed(2), "num");
    const quiet = subscription.quietHours;
    cell(row, quiet?.start !== undefined && quiet.end !== undefined
      ? `${hhmm(quiet.start)}-${hhmm(quiet.end)} ${subscription.timeZone}` : "-");
    row.insertCell().append(button("Delete", "Delete alert subscription", () => void this.remove(subscription)));
    return row;
  }

  private async remove(subscription: AlertSubscription): Promise<void> {
    try {
      await this.api.patterns.deleteAlertSubscription(
        { subscriptionId: subscription.subscriptionId },
        { timeoutMs: UNARY_TIMEOUT_MS },
      );
      await this.refresh();
    } catch (error) {
      showError(this.form, error);
    }
  }
}

function timeOfDay(text: string): { hours: number; minutes: number } {
  const [hours, minutes] = text.split(":").map(Number);
  return { hours: hours ?? 0, minutes: minutes ?? 0 };
}

function hhmm(time: { hours: number; minutes: number }): string {
  return `${String(time.hours).padStart(2, "0")}:${String(time.minutes).padStart(2, "0")}`;
}
