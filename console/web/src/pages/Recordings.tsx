// Recordings search (customer, time range, business type, campaign, disposition) and audited
// playback streamed from the vault into the browser (never a clear file on disk).
import { useEffect, useState } from "react";
import { api, ApiError, type Me, type Page } from "../api";
import { when } from "../format";
import { lang, t } from "../i18n";
import { Refused } from "./common";

interface Recording {
  recording_id: string; call_id: string; started_at: string; duration_ms: number; direction: string;
  business_type: string; campaign: string | null; customer: string | null; disposition: string | null;
}

export function Recordings(props: { me: Me }) {
  const [query, setQuery] = useState({ customer: "", started_from: "", started_to: "", business_type: "", campaign: "", flow: "", disposition: "" });
  const [page, setPage] = useState<Page<Recording> | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [reason, setReason] = useState("");
  const [playing, setPlaying] = useState<string | null>(null);
  const [msg, setMsg] = useState("");
  const search = async () => {
    const body: Record<string, string | number> = { limit: 50, offset: 0 };
    for (const [k, v] of Object.entries(query)) if (v) body[k] = k.startsWith("started_") ? new Date(v).toISOString() : v;
    try { setPage(await api<Page<Recording>>("POST", "/recordings/search", body)); setError(null); }
    catch (e) { if (e instanceof ApiError) setError(e); else throw e; }
  };
  useEffect(() => { search(); }, []);  // eslint-disable-line react-hooks/exhaustive-deps
  const play = (id: string) => {
    if (!reason.trim()) { setMsg(t("play_reason")); return; }
    setMsg("");
    setPlaying(`/api/v1/recordings/${encodeURIComponent(id)}/audio?reason=${encodeURIComponent(reason)}`);
  };
  if (error) return <div><h2>{t("nav_recordings")}</h2><Refused error={error} /></div>;
  return (
    <div>
      <h2>{t("nav_recordings")}</h2>
      <div className="row wrap">
        <input data-testid="rec-customer" placeholder={t("customer_number")} value={query.customer} onChange={(e) => setQuery({ ...query, customer: e.target.value })} />
        <label>{t("from")} <input type="datetime-local" value={query.started_from} onChange={(e) => setQuery({ ...query, started_from: e.target.value })} /></label>
        <label>{t("to")} <input type="datetime-local" value={query.started_to} onChange={(e) => setQuery({ ...query, started_to: e.target.value })} /></label>
        <input placeholder={t("business_type")} value={query.business_type} onChange={(e) => setQuery({ ...query, business_type: e.target.value })} />
        <input placeholder={t("campaign")} value={query.campaign} onChange={(e) => setQuery({ ...query, campaign: e.target.value })} />
        <input placeholder={t("flow")} value={query.flow} onChange={(e) => setQuery({ ...query, flow: e.target.value })} />
        <input data-testid="rec-disposition" placeholder={t("disposition")} value={query.disposition} onChange={(e) => setQuery({ ...query, disposition: e.target.value })} />
        <button data-testid="rec-search" onClick={search}>{t("search")}</button>
      </div>
      <div className="row">
        <input data-testid="rec-reason" className="wide" placeholder={t("play_reason")} value={reason} onChange={(e) => setReason(e.target.value)} />
      </div>
      {msg && <div className="banner error">{msg}</div>}
      {playing && <audio data-testid="player" controls autoPlay src={playing} onError={() => setMsg(t("playback_failed"))} />}
      <table className="list" data-testid="recordings">
        <thead><tr><th>{t("started_at")}</th><th>{t("duration")}</th><th>{t("direction")}</th><th>{t("business_type")}</th><th>{t("campaign")}</th><th>{t("disposition")}</th><th>{t("customer_number")}</th><th /></tr></thead>
        <tbody>
          {page?.items.map((r) => (
            <tr key={r.recording_id}>
              <td>{when(r.started_at, lang())}</td>
              <td>{Math.round(r.duration_ms / 1000)}s</td>
              <td>{r.direction}</td><td>{r.business_type}</td><td>{r.campaign ?? "—"}</td><td>{r.disposition ?? "—"}</td>
              <td data-testid="rec-number">{r.customer ?? "—"}</td>
              <td>{props.me.permissions.includes("recordings.play") && <button data-testid={`play-${r.call_id}`} onClick={() => play(r.recording_id)}>▶ {t("play")}</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page && <p className="muted">{page.total}</p>}
    </div>
  );
}
