// The dashboard's entry point: sign-in, the tabs, and the wiring between the filter form, the live
// stream, the chart and the other views.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { AlertsView } from "./alerts.js";
import { BacktestsView } from "./backtests.js";
import { BarChart } from "./chart.js";
import { clearErrors, showError } from "./errors.js";
import { checkedNumbers, field, list, optionalNumber, selectedValues, setOptions } from "./forms.js";
import type { EventFilterSchema } from "./gen/tickstock/v1/event_service_pb.js";
import type { Watchlist } from "./gen/tickstock/v1/universe_service_pb.js";
import { LiveEvents } from "./live.js";
import { PatternsView } from "./patterns.js";
import { Session } from "./session.js";
import { UNARY_TIMEOUT_MS } from "./api.js";
import { WatchlistsView } from "./watchlists.js";

declare global {
  interface Window {
    /** For people and tests inspecting delivery: the (epoch, seq) pairs this page has received. */
    tickstock?: { received(): ReadonlyArray<readonly [string, string]> };
  }
}

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const signInSection = byId<HTMLElement>("sign-in");
const signInForm = byId<HTMLFormElement>("sign-in-form");
const app = byId<HTMLElement>("app");
const filterForm = byId<HTMLFormElement>("filter-form");

let views: Views | undefined;

/** Everything that lives as long as one session. */
class Views {
  readonly live: LiveEvents;
  readonly chart: BarChart;
  readonly patterns: PatternsView;
  readonly watchlists: WatchlistsView;
  readonly alerts: AlertsView;
  readonly backtests: BacktestsView;

  constructor(readonly session: Session) {
    const api = session.api;
    this.live = new LiveEvents(
      api,
      byId<HTMLTableElement>("events").tBodies[0]!,
      byId<HTMLOListElement>("notices"),
      byId("health"),
      (error) => showError(filterForm, error),
    );
    this.chart = new BarChart(api, byId("chart"), byId("chart-status"));
    this.chart.follow(() => !byId("view-chart").hidden);
    this.patterns = new PatternsView(api, byId("scan-form"), tbody("patterns"), tbody("live-patterns"));
    this.watchlists = new WatchlistsView(api, byId("watchlist-form"), tbody("watchlists"), (lists) => watchlistOptions(lists));
    this.alerts = new AlertsView(api, byId("alert-form"), tbody("alert-subscriptions"), byId("alerts"), byId("alerts-state"));
    this.backtests = new BacktestsView(api, byId("backtest-form"), tbody("backtests"));
    window.tickstock = { received: () => this.live.received };
  }

  async start(): Promise<void> {
    this.live.subscribe({ filter: {} });
    this.alerts.follow();
    // The views show their own errors; the filter form shows those of its lists. A refused session
    // has already returned the page to the sign-in form.
    const lists = [loadUniverses(this.session), loadPresets(this.session)];
    for (const loading of lists) loading.catch((error: unknown) => showError(filterForm, error));
    await Promise.allSettled([...lists, this.watchlists.refresh(), this.alerts.refresh(), this.backtests.refresh()]);
  }

  stop(): void {
    this.live.stop();
    this.patterns.stopLive();
    this.alerts.stop();
    this.backtests.stop();
  }
}

function tbody(tableId: string): HTMLTableSectionElement {
  return byId<HTMLTableElement>(tableId).tBodies[0]!;
}

function showSignIn(reason: string): void {
  views?.stop();
  views = undefined;
  app.hidden = true;
  signInSection.hidden = false;
  byId("sign-out").hidden = true;
  byId("user").textContent = "";
  const pill = byId("connection");
  pill.textContent = "signed out";
  pill.dataset.state = "idle";
  signInForm.querySelector<HTMLElement>(".error")!.textContent = reason;
  field(signInForm, "api_key").value = "";
  field(signInForm, "api_key").focus();
}

function enter(session: Session): void {
  signInSection.hidden = true;
  app.hidden = false;
  byId("sign-out").hidden = false;
  byId("user").textContent = session.user;
  views = new Views(session);
  void views.start();
}

function eventFilter(): MessageInitShape<typeof EventFilterSchema> {
  return {
    symbols: list(filterForm, "symbols"),
    universes: selectedValues(filterForm, "universes"),
    watchlistIds: selectedValues(filterForm, "watchlist_ids"),
    eventTypes: checkedNumbers(filterForm, "event_types"),
    directions: checkedNumbers(filterForm, "directions"),
    minSignificance: optionalNumber(filterForm, "min_significance"),
    minTrendStrength: Number(field<HTMLSelectElement>(filterForm, "min_trend_strength").value),
    minSurgeStrength: Number(field<HTMLSelectElement>(filterForm, "min_surge_strength").value),
    minPrice: optionalNumber(filterForm, "min_price"),
    maxPrice: optionalNumber(filterForm, "max_price"),
  };
}

async function loadUniverses(session: Session): Promise<void> {
  const answer = await session.api.universe.listUniverses({}, { timeoutMs: UNARY_TIMEOUT_MS });
  const options = answer.universes.map((u) => [u.name, `${u.name} (${u.memberCount})`] as const);
  for (const form of ["filter-form", "scan-form", "alert-form"]) {
    setOptions(field<HTMLSelectElement>(byId<HTMLFormElement>(form), "universes"), options);
  }
}

async function loadPresets(session: Session): Promise<void> {
  const answer = await session.api.events.listFilterPresets({}, { timeoutMs: UNARY_TIMEOUT_MS });
  setOptions(field<HTMLSelectElement>(filterForm, "preset"), answer.presets.map((p) => [p.name, p.name] as const));
}

function watchlistOptions(watchlists: readonly Watchlist[]): void {
  setOptions(field<HTMLSelectElement>(filterForm, "watchlist_ids"), watchlists.map((w) => [w.watchlistId, w.name] as const));
}

function selectTab(tab: HTMLElement, focus: boolean): void {
  for (const other of document.querySelectorAll<HTMLElement>('[role="tab"]')) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    byId(other.getAttribute("aria-controls")!).hidden = !selected;
  }
  if (focus) tab.focus();
}

function wireTabs(): void {
  const tabs = [...document.querySelectorAll<HTMLElement>('[role="tab"]')];
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => selectTab(tab, false));
    tab.addEventListener("keydown", (event) => {
      const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
      if (step === 0) return;
      event.preventDefault();
      selectTab(tabs[(index + step + tabs.length) % tabs.length]!, true);
    });
  });
}

function wireForms(): void {
  signInForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = signInForm.querySelector("button")!;
    button.disabled = true;
    Session.signIn(field(signInForm, "server").value, field(signInForm, "api_key").value, showSignIn)
      .then(enter, (error: unknown) => showError(signInForm, error))
      .finally(() => {
        button.disabled = false;
        field(signInForm, "api_key").value = "";
      });
  });
  byId("sign-out").addEventListener("click", () => views?.session.end(""));
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(filterForm);
    const preset = field<HTMLSelectElement>(filterForm, "preset").value;
    views?.live.subscribe(preset === "" ? { filter: eventFilter() } : { presetName: preset });
  });
  byId("save-preset").addEventListener("click", () => {
    if (views === undefined) return;
    const session = views.session;
    const name = field(filterForm, "preset_name").value.trim();
    session.api.events
      .saveFilterPreset({ preset: { name, filter: eventFilter() } }, { timeoutMs: UNARY_TIMEOUT_MS })
      .then(() => loadPresets(session), (error: unknown) => showError(filterForm, error));
  });
  byId("delete-preset").addEventListener("click", () => {
    if (views === undefined) return;
    const session = views.session;
    const name = field<HTMLSelectElement>(filterForm, "preset").value;
    session.api.events
      .deleteFilterPreset({ name }, { timeoutMs: UNARY_TIMEOUT_MS })
      .then(() => loadPresets(session), (error: unknown) => showError(filterForm, error));
  });
  const chartForm = byId<HTMLFormElement>("chart-form");
  chartForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const symbol = field(chartForm, "symbol").value.trim().toUpperCase();
    const interval = Number(field<HTMLSelectElement>(chartForm, "interval").value);
    clearErrors(chartForm);
    views?.chart.show(symbol, interval).catch((error: unknown) => showError(chartForm, error));
  });
  // Showing the chart tab the first time loads the default symbol.
  byId("tab-chart").addEventListener("click", () => {
    if (byId("chart-status").textContent === "") chartForm.requestSubmit();
  }, { once: true });
}

function boot(): void {
  wireTabs();
  wireForms();
  const params = new URLSearchParams(location.search);
  field(signInForm, "server").value = params.get("server") ?? location.origin;
  const restored = Session.restore(showSignIn);
  if (typeof restored === "string") showSignIn(restored);
  else enter(restored);
}

boot();
