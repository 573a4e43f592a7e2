// Small shared pieces of the pages: an API-backed loader that shows a refusal as such.
import { useCallback, useEffect, useState } from "react";
import { api, ApiError } from "../api";
import { t } from "../i18n";

// GET ``path`` (again every ``everyMs`` when given: figures that change while the page is open).
export function useApi<T>(path: string | null, everyMs?: number): {
  data: T | null;
  error: ApiError | null;
  reload: () => void;
} {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    api<T>("GET", path)
      .then((d) => { if (live) { setData(d); setError(null); } })
      .catch((e) => { if (live && e instanceof ApiError) setError(e); });
    return () => { live = false; };
  }, [path, tick]);
  useEffect(() => {
    if (path === null || !everyMs) return;
    const timer = window.setInterval(() => setTick((n) => n + 1), everyMs);
    return () => window.clearInterval(timer);
  }, [path, everyMs]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, reload };
}

export function Refused(props: { error: ApiError | null }) {
  if (!props.error) return null;
  if (props.error.status === 403)
    return <div className="forbidden" data-testid="forbidden" role="alert">{t("forbidden")}</div>;
  return <div className="error" role="alert">{props.error.status}: {props.error.message}</div>;
}

export function errorText(e: unknown): string {
  return e instanceof ApiError ? `${e.status}: ${e.message}` : String(e);
}

// Who published a version: a person, or nobody for the file shipped with the system (source disk).
export function publisher(v: { source: string; author: string }): string {
  return v.source === "disk" ? t("vsrc_disk") : v.author;
}
