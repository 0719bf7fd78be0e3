// The pattern scan (every filter and sort, paged with the server's tokens) and the live pattern stream.
import { Code, ConnectError } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Api } from "./api.js";
import { UNARY_TIMEOUT_MS } from "./api.js";
import { clearErrors, showError } from "./errors.js";
import { cell } from "./dom.js";
import { dateTime, enumName, price } from "./format.js";
import { checkedNumbers, field, list, optionalNumber, selectedValues } from "./forms.js";
import { PatternSource, PatternTimeframe } from "./gen/tickstock/v1/events_pb.js";
import type { Pattern, PatternFilterSchema } from "./gen/tickstock/v1/pattern_service_pb.js";

const MAX_LIVE_ROWS = 100;
const RETRY_MS = 2_000;

export class PatternsView {
  /** Tokens of the pages before the current one; the first page's token is "". */
  private previous: string[] = [];
  private current = "";
  private next = "";
  private live: AbortController | undefined;

  constructor(
    private readonly api: Api,
    private readonly form: HTMLFormElement,
    private readonly table: HTMLTableSectionElement,
    private readonly liveTable: HTMLTableSectionElement,
  ) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.previous = [];
      void this.load("");
      if (this.liveBox.checked) this.startLive();
    });
    this.button("scan-next").addEventListener("click", () => {
      this.previous.push(this.current);
      void this.load(this.next);
    });
    this.button("scan-prev").addEventListener("click", () => void this.load(this.previous.pop() ?? ""));
    this.liveBox.addEventListener("change", () => (this.liveBox.checked ? this.startLive() : this.stopLive()));
  }

  private get liveBox(): HTMLInputElement {
    return document.getElementById("pattern-live") as HTMLInputElement;
  }

  private button(id: string): HTMLButtonElement {
    return document.getElementById(id) as HTMLButtonElement;
  }

  filter(): MessageInitShape<typeof PatternFilterSchema> {
    const form = this.form;
    return {
      patternTypes: list(form, "pattern_types", false),
      symbols: list(form, "symbols"),
      universes: selectedValues(form, "universes"),
      minConfidence: optionalNumber(form, "min_confidence"),
      minRelativeStrength: optionalNumber(form, "min_relative_strength"),
      minRelativeVolume: optionalNumber(form, "min_relative_volume"),
      minRsi: optionalNumber(form, "min_rsi"),
      maxRsi: optionalNumber(form, "max_rsi"),
      timeframes: checkedNumbers(form, "timeframes"),
    };
  }

  async load(pageToken: string): Promise<void> {
    const status = document.getElementById("scan-status")!;
    try {
      const answer = await this.api.patterns.scanPatterns(
        {
          filter: this.filter(),
          sortBy: Number(field<HTMLSelectElement>(this.form, "sort_by").value),
          sortOrder: Number(field<HTMLSelectElement>(this.form, "sort_order").value),
          pageSize: optionalNumber(this.form, "page_size") ?? 0,
          pageToken,
        },
        { timeoutMs: UNARY_TIMEOUT_MS },
      );
      clearErrors(this.form);
      this.current = pageToken;
      this.next = answer.nextPageToken;
      this.table.replaceChildren(...answer.patterns.map(patternRow));
      const page = this.previous.length + 1;
      status.textContent = `page ${page}: ${answer.patterns.length} of ${answer.totalSize} patterns`;
      status.dataset.page = String(page);
    } catch (error) {
      showError(this.form, error);
    }
    this.button("scan-prev").disabled = this.previous.length === 0;
    this.button("scan-next").disabled = this.next === "";
  }

  private startLive(): void {
    this.stopLive();
    const controller = new AbortController();
    this.live = controller;
    void this.followLive(controller.signal);
  }

  stopLive(): void {
    this.live?.abort();
    this.live = undefined;
  }

  private async followLive(signal: AbortSignal): Promise<void> {
    const filter = this.filter();
    while (!signal.aborted) {
      try {
        for await (const response of this.api.patterns.streamPatterns({ filter }, { signal })) {
          if (response.payload.case !== "pattern") continue;
          this.liveTable.prepend(livePatternRow(response.payload.value));
          while (this.liveTable.rows.length > MAX_LIVE_ROWS) this.liveTable.deleteRow(-1);
        }
      } catch (error) {
        if (signal.aborted) return;
        const connectError = ConnectError.from(error);
        if ([Code.InvalidArgument, Code.ResourceExhausted, Code.Unauthenticated].includes(connectError.code)) {
          showError(this.form, connectError);
          this.liveBox.checked = false;
          return;
        }
      }
      await new Promise((resolve) => window.setTimeout(resolve, RETRY_MS));
    }
  }
}

function patternRow(pattern: Pattern): HTMLTableRowElement {
  const row = document.createElement("tr");
  const details = pattern.details;
  cell(row, pattern.symbol);
  cell(row, details?.patternType ?? "");
  cell(row, (details?.confidence ?? 0).toFixed(2), "num");
  cell(row, price(pattern.price), "num");
  cell(row, enumName(PatternTimeframe, details?.timeframe ?? 0));
  cell(row, enumName(PatternSource, details?.source ?? 0));
  cell(row, dateTime(pattern.detectTime));
  return row;
}

function livePatternRow(pattern: Pattern): HTMLTableRowElement {
  const row = document.createElement("tr");
  cell(row, pattern.symbol);
  cell(row, pattern.details?.patternType ?? "");
  cell(row, (pattern.details?.confidence ?? 0).toFixed(2), "num");
  cell(row, price(pattern.price), "num");
  cell(row, dateTime(pattern.detectTime));
  return row;
}
