// Display formats shared by the views.
import { durationMs, timestampDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";

/** Event times read in the exchange's time zone, as on the chart, whatever the browser's zone. */
const EXCHANGE_TIME = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York", hour: "2-digit", minute: "2-digit", second: "2-digit",
  fractionalSecondDigits: 3, hour12: false,
});

export function time(ts: Timestamp | undefined): string {
  return ts === undefined ? "-" : EXCHANGE_TIME.format(timestampDate(ts));
}

const EXCHANGE_DATE_TIME = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  second: "2-digit", hour12: false,
});

export function dateTime(ts: Timestamp | undefined): string {
  return ts === undefined ? "-" : `${EXCHANGE_DATE_TIME.format(timestampDate(ts))} ET`;
}

export function price(value: number): string {
  return value.toFixed(value >= 1000 ? 2 : 4).replace(/0{1,2}$/, "");
}

export function percent(value: number): string {
  return `${value >= 0 ? "+" : ""}${value.toFixed(2)}`;
}

export function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "-";
  if (Math.abs(value) >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  return `${Math.round(value)} ms`;
}

export function duration(value: Duration | undefined): string {
  return value === undefined ? "-" : ms(durationMs(value));
}

/** "SURGE_STRENGTH_MODERATE"-style enum member names as words: enumName(SurgeStrength, 2) -> "moderate". */
export function enumName(enumObject: Record<number, string>, value: number): string {
  const name = enumObject[value];
  return name === undefined || name === "UNSPECIFIED" ? "" : name.toLowerCase().replace(/_/g, " ");
}
