// Bars for one symbol from GetBars, drawn with lightweight-charts (candles and a volume histogram), and
// kept current: the newest bars are fetched again every few seconds while the chart is shown.
import {
  CandlestickSeries,
  ColorType,
  createChart,
  HistogramSeries,
  type IChartApi,
  type ISeriesApi,
  type Time,
  type UTCTimestamp,
} from "lightweight-charts";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Api } from "./api.js";
import { UNARY_TIMEOUT_MS } from "./api.js";
import { BarInterval, type Bar } from "./gen/tickstock/v1/market_data_service_pb.js";

/** Bars asked for when a symbol is opened (the server's maximum page). */
const INITIAL_BARS = 1000;
const REFRESH_MS = 5_000;
/** Bars are shown in the exchange's time zone, whatever the browser's is. */
const EXCHANGE_TIME = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false,
});
const EXCHANGE_CLOCK = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York", hour: "2-digit", minute: "2-digit", hour12: false,
});
const UP = "#4ade80";
const DOWN = "#f87171";

export class BarChart {
  private readonly chart: IChartApi;
  private readonly candles: ISeriesApi<"Candlestick">;
  private readonly volume: ISeriesApi<"Histogram">;
  private symbol = "";
  private interval = BarInterval.BAR_INTERVAL_1_MINUTE;
  private lastBarMs: number | undefined;
  private timer: number | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly api: Api,
    container: HTMLElement,
    private readonly status: HTMLElement,
  ) {
    this.chart = createChart(container, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: "#0b1320" }, textColor: "#e8eef7" },
      grid: { vertLines: { color: "#1b2740" }, horzLines: { color: "#1b2740" } },
      timeScale: {
        timeVisible: true,
        secondsVisible: false,
        tickMarkFormatter: (time: Time) => EXCHANGE_CLOCK.format(new Date(Number(time) * 1000)),
      },
      localization: { timeFormatter: (time: Time) => `${EXCHANGE_TIME.format(new Date(Number(time) * 1000))} ET` },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderVisible: false, wickUpColor: UP, wickDownColor: DOWN,
    });
    this.volume = this.chart.addSeries(HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "volume" });
    this.chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  }

  /** Show `symbol` at `interval`; rejects with the server's error (shown by the caller). */
  async show(symbol: string, interval: BarInterval): Promise<void> {
    this.symbol = symbol;
    this.interval = interval;
    this.lastBarMs = undefined;
    const answer = await this.api.market.getBars(
      { symbol, interval, pageSize: INITIAL_BARS },
      { timeoutMs: UNARY_TIMEOUT_MS },
    );
    const bars = sorted(answer.bars);
    this.candles.setData(bars.map(candle));
    this.volume.setData(bars.map(volumeBar));
    this.chart.timeScale().fitContent();
    this.lastBarMs = bars.length > 0 ? timestampMs(bars[bars.length - 1]!.startTime!) : undefined;
    this.status.textContent = `${symbol}: ${bars.length} bars`;
    this.status.dataset.bars = String(bars.length);
  }

  /** Fetch the newest bars every REFRESH_MS while `visible()` holds. */
  follow(visible: () => boolean): void {
    window.clearInterval(this.timer);
    this.timer = window.setInterval(() => {
      if (visible() && this.symbol !== "" && this.loading === undefined) {
        this.loading = this.refresh().finally(() => (this.loading = undefined));
      }
    }, REFRESH_MS);
  }

  private async refresh(): Promise<void> {
    if (this.lastBarMs === undefined) return;
    try {
      const answer = await this.api.market.getBars(
        { symbol: this.symbol, interval: this.interval, startTime: timestampFromMs(this.lastBarMs), pageSize: INITIAL_BARS },
        { timeoutMs: UNARY_TIMEOUT_MS },
      );
      for (const bar of sorted(answer.bars)) {
        this.candles.update(candle(bar));
        this.volume.update(volumeBar(bar));
        this.lastBarMs = Math.max(this.lastBarMs ?? 0, timestampMs(bar.startTime!));
      }
    } catch {
      // The next refresh tries again; the live stream's panel shows connection problems.
    }
  }
}

function sorted(bars: readonly Bar[]): Bar[] {
  return bars.filter((bar) => bar.startTime !== undefined).sort((a, b) => timestampMs(a.startTime!) - timestampMs(b.startTime!));
}

function seconds(bar: Bar): UTCTimestamp {
  return Math.floor(timestampMs(bar.startTime!) / 1000) as UTCTimestamp;
}

function candle(bar: Bar) {
  return { time: seconds(bar), open: bar.open, high: bar.high, low: bar.low, close: bar.close };
}

function volumeBar(bar: Bar) {
  return { time: seconds(bar), value: Number(bar.volume), color: bar.close >= bar.open ? `${UP}80` : `${DOWN}80` };
}
