// Times in the institution's zone, shown and typed: a page shows an instant as the zone's wall
// time (`when`) and reads a typed wall time (a datetime-local or date input) in the same zone
// (`zonedIso`, `zonedDay`), whatever zone the browser runs in. Numbers are shown as the server
// sends them (masked).
let zone = "Asia/Shanghai";

export function setZone(z: string): void {
  zone = z;
}

export function when(iso: string | null | undefined, lang: string): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  }).format(d);
}

export function zoneName(): string {
  return zone;
}

// The zone's wall clock at an instant, read as if it were UTC (ms): minus the instant, the offset.
function wallAsUtc(instant: number): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(instant));
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(part("year"), part("month") - 1, part("day"), part("hour"), part("minute"), part("second"));
}

// A typed wall time ("2026-11-30T10:00", a datetime-local value) in the institution's zone, as
// an ISO instant; undefined when empty or not a wall time.
export function zonedIso(local: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0));
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  const whole = (t: number) => Math.floor(t / 1000) * 1000;
  let instant = wall - (wallAsUtc(wall) - whole(wall));
  instant = wall - (wallAsUtc(instant) - whole(instant)); // again: right across a DST change
  return new Date(instant).toISOString();
}

// The institution's calendar day (YYYY-MM-DD) `offsetDays` from today.
export function zonedDay(offsetDays: number): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date(Date.now() + offsetDays * 86400000));
}
