// Watchlists: create, rename, edit the symbols, delete; every change refreshes the lists that use them.
import type { Api } from "./api.js";
import { UNARY_TIMEOUT_MS } from "./api.js";
import { clearErrors, showError } from "./errors.js";
import { button, cell } from "./dom.js";
import { dateTime } from "./format.js";
import { field, list } from "./forms.js";
import type { Watchlist } from "./gen/tickstock/v1/universe_service_pb.js";

export class WatchlistsView {
  constructor(
    private readonly api: Api,
    private readonly form: HTMLFormElement,
    private readonly table: HTMLTableSectionElement,
    private readonly onChange: (watchlists: readonly Watchlist[]) => void,
  ) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.save();
    });
    document.getElementById("watchlist-new")!.addEventListener("click", () => this.edit(undefined));
  }

  async refresh(): Promise<void> {
    try {
      const answer = await this.api.universe.listWatchlists({}, { timeoutMs: UNARY_TIMEOUT_MS });
      this.table.replaceChildren(...answer.watchlists.map((watchlist) => this.row(watchlist)));
      this.onChange(answer.watchlists);
    } catch (error) {
      showError(this.form, error);
    }
  }

  private async save(): Promise<void> {
    const id = field(this.form, "watchlist_id").value;
    const watchlist = { watchlistId: id, name: field(this.form, "name").value.trim(), symbols: list(this.form, "symbols") };
    try {
      if (id === "") {
        await this.api.universe.createWatchlist({ watchlist }, { timeoutMs: UNARY_TIMEOUT_MS });
      } else {
        await this.api.universe.updateWatchlist(
          { watchlist, updateMask: { paths: ["name", "symbols"] } },
          { timeoutMs: UNARY_TIMEOUT_MS },
        );
      }
      this.edit(undefined);
      await this.refresh();
    } catch (error) {
      showError(this.form, error);
    }
  }

  private edit(watchlist: Watchlist | undefined): void {
    clearErrors(this.form);
    field(this.form, "watchlist_id").value = watchlist?.watchlistId ?? "";
    field(this.form, "name").value = watchlist?.name ?? "";
    field(this.form, "symbols").value = watchlist?.symbols.join(", ") ?? "";
    field(this.form, "name").focus();
  }

  private async remove(watchlist: Watchlist): Promise<void> {
    try {
      await this.api.universe.deleteWatchlist({ watchlistId: watchlist.watchlistId }, { timeoutMs: UNARY_TIMEOUT_MS });
      await this.refresh();
    } catch (error) {
      showError(this.form, error);
    }
  }

  private row(watchlist: Watchlist): HTMLTableRowElement {
    const row = document.createElement("tr");
    row.dataset.watchlistId = watchlist.watchlistId;
    cell(row, watchlist.name);
    cell(row, watchlist.symbols.join(", "));
    cell(row, dateTime(watchlist.updateTime));
    const actions = row.insertCell();
    actions.append(
      button("Edit", `Edit ${watchlist.name}`, () => this.edit(watchlist)),
      button("Delete", `Delete ${watchlist.name}`, () => void this.remove(watchlist)),
    );
    return row;
  }
}
