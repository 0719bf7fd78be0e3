// Backtests: submit one, watch its progress and result through StreamBacktest, cancel it, list them all.
import type { Api } from "./api.js";
import { UNARY_TIMEOUT_MS } from "./api.js";
import { button, cell } from "./dom.js";
import { clearErrors, showError } from "./errors.js";
import { enumName } from "./format.js";
import { field, list, optionalNumber } from "./forms.js";
import { BacktestState, type Backtest } from "./gen/tickstock/v1/backtest_service_pb.js";

const FINISHED = new Set([BacktestState.COMPLETED, BacktestState.FAILED, BacktestState.CANCELLED]);

export class BacktestsView {
  private readonly watching = new Map<string, AbortController>();

  constructor(
    private readonly api: Api,
    private readonly form: HTMLFormElement,
    private readonly table: HTMLTableSectionElement,
  ) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.submit();
    });
  }

  async refresh(): Promise<void> {
    try {
      const answer = await this.api.backtests.listBacktests({}, { timeoutMs: UNARY_TIMEOUT_MS });
      this.table.replaceChildren(...answer.backtests.map((backtest) => this.row(backtest)));
      for (const backtest of answer.backtests) if (!FINISHED.has(backtest.state)) this.watch(backtest.backtestId);
    } catch (error) {
      showError(this.form, error);
    }
  }

  stop(): void {
    for (const controller of this.watching.values()) controller.abort();
    this.watching.clear();
  }

  private async submit(): Promise<void> {
    const form = this.form;
    try {
      const answer = await this.api.backtests.submitBacktest(
        {
          symbols: list(form, "symbols"),
          patterns: list(form, "patterns", false),
          startDate: date(field(form, "start_date").value),
          endDate: date(field(form, "end_date").value),
          parameters: {
            initialCapital: optionalNumber(form, "initial_capital") ?? 0,
            commissionRate: optionalNumber(form, "commission_rate") ?? 0,
            stopLossPct: optionalNumber(form, "stop_loss_pct") ?? 0,
            takeProfitPct: optionalNumber(form, "take_profit_pct") ?? 0,
          },
        },
        { timeoutMs: UNARY_TIMEOUT_MS },
      );
      clearErrors(form);
      if (answer.backtest !== undefined) {
        this.upsert(answer.backtest);
        this.watch(answer.backtest.backtestId);
      }
    } catch (error) {
      showError(form, error);
    }
  }

  private watch(id: string): void {
    if (this.watching.has(id)) return;
    const controller = new AbortController();
    this.watching.set(id, controller);
    void (async () => {
      try {
        for await (const update of this.api.backtests.streamBacktest({ backtestId: id }, { signal: controller.signal })) {
          if (update.backtest !== undefined) this.upsert(update.backtest);
        }
      } catch {
        // Stream ended (signed out, server restart): the list shows the last state; refresh re-watches.
      } finally {
        this.watching.delete(id);
      }
    })();
  }

  private upsert(backtest: Backtest): void {
    const row = this.row(backtest);
    const existing = this.table.querySelector(`tr[data-backtest-id="${CSS.escape(backtest.backtestId)}"]`);
    if (existing === null) this.table.prepend(row);
    else existing.replaceWith(row);
  }

  private row(backtest: Backtest): HTMLTableRowElement {
    const row = document.createElement("tr");
    row.dataset.backtestId = backtest.backtestId;
    const result = backtest.result;
    cell(row, backtest.backtestId.slice(0, 8));
    cell(row, enumName(BacktestState, backtest.state) + (backtest.errorMessage ? `: ${backtest.errorMessage}` : ""));
    cell(row, `${Math.round(backtest.progress * 100)}%`, "num");
    cell(row, backtest.symbols.join(", "));
    cell(row, backtest.patterns.join(", "));
    cell(row, result === undefined ? "-" : `${(result.totalReturn * 100).toFixed(2)}%`, "num");
    cell(row, result === undefined ? "-" : `${(result.winRate * 100).toFixed(1)}%`, "num");
    cell(row, result === undefined ? "-" : result.totalTrades.toString(), "num");
    const actions = row.insertCell();
    if (!FINISHED.has(backtest.state)) {
      actions.append(button("Cancel", `Cancel backtest ${backtest.backtestId}`, () => void this.cancel(backtest.backtestId)));
    }
    return row;
  }

  private async cancel(id: string): Promise<void> {
    try {
      const answer = await this.api.backtests.cancelBacktest({ backtestId: id }, { timeoutMs: UNARY_TIMEOUT_MS });
      if (answer.backtest !== undefined) this.upsert(answer.backtest);
    } catch (error) {
      showError(this.form, error);
    }
  }
}

function date(text: string): { year: number; month: number; day: number } | undefined {
  if (text === "") return undefined;
  const [year, month, day] = text.split("-").map(Number);
  return { year: year ?? 0, month: month ?? 0, day: day ?? 0 };
}
