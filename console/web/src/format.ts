// Times in the institution's zone; numbers are shown as the server sends them (masked).
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
