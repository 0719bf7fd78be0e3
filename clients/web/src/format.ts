// Display formats shared by the views.
import { durationMs, timestampDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";

export function time(ts: Timestamp | undefined): string {
  if (ts === undefined) return "-";
  return timestampDate(ts).toISOString().slice(11, 23);
}

export function dateTime(ts: Timestamp | undefined): string {
  if (ts === undefined) return "-";
  return timestampDate(ts).toISOString().replace("T", " ").slice(0, 19);
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
