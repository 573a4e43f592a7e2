// Recordings search (customer, time range, business type, campaign, disposition) and audited
// playback streamed from the vault into the browser (never a clear file on disk).
import { useEffect, useState } from "react";
import { api, ApiError, type Me } from "../api";
import { when, zonedIso } from "../format";
import { lang, t, tOr } from "../i18n";
import { Refused } from "./common";

interface Recording {
  recording_id: string; call_id: string; started_at: string; duration_ms: number; direction: string;
  business_type: string; campaign: string | null; customer: string | null; disposition: string | null;
}

// A page of the search: no total (counting a million rows per search is what the index avoids),
// whether there is a next page.
interface Found { items: Recording[]; limit: number; offset: number; has_more: boolean }
const PAGE = 50;

export function Recordings(props: { me: Me }) {
  const [query, setQuery] = useState({ customer: "", started_from: "", started_to: "", business_type: "", campaign: "", flow: "", disposition: "" });
  const [page, setPage] = useState<Found | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [reason, setReason] = useState("");
  const [playing, setPlaying] = useState<string | null>(null);
  const [msg, setMsg] = useState("");
  const search = async (offset = 0) => {
    const body: Record<string, string | number> = { limit: PAGE, offset };
    for (const [k, v] of Object.entries(query)) if (v) body[k] = k.startsWith("started_") ? (zonedIso(v) ?? v) : v;
    try { setPage(await api<Found>("POST", "/recordings/search", body)); setError(null); }
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
        <label>{t("from")} <input type="datetime-local" data-testid="rec-from" value={query.started_from} onChange={(e) => setQuery({ ...query, started_from: e.target.value })} /></label>
        <label>{t("to")} <input type="datetime-local" data-testid="rec-to" value={query.started_to} onChange={(e) => setQuery({ ...query, started_to: e.target.value })} /></label>
        <input placeholder={t("business_type")} value={query.business_type} onChange={(e) => setQuery({ ...query, business_type: e.target.value })} />
        <input data-testid="rec-campaign" placeholder={t("campaign")} value={query.campaign} onChange={(e) => setQuery({ ...query, campaign: e.target.value })} />
        <input placeholder={t("flow")} value={query.flow} onChange={(e) => setQuery({ ...query, flow: e.target.value })} />
        <input data-testid="rec-disposition" placeholder={t("disposition")} value={query.disposition} onChange={(e) => setQuery({ ...query, disposition: e.target.value })} />
        <button data-testid="rec-search" onClick={() => search()}>{t("search")}</button>
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
              <td>{Math.round(r.duration_ms / 1000)} {t("seconds")}</td>
              <td>{t("dir_" + r.direction)}</td><td>{tOr("purpose_" + r.business_type, r.business_type)}</td>
              <td>{r.campaign ?? "—"}</td><td>{r.disposition ? tOr("disp_" + r.disposition, r.disposition) : "—"}</td>
              <td data-testid="rec-number">{r.customer ?? "—"}</td>
              <td>{props.me.permissions.includes("recordings.play") && <button data-testid={`play-${r.call_id}`} onClick={() => play(r.recording_id)}>▶ {t("play")}</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page && (page.offset > 0 || page.has_more) && (
        <div className="row" data-testid="rec-pages">
          <button disabled={page.offset === 0} onClick={() => search(Math.max(0, page.offset - PAGE))}>{t("previous_page")}</button>
          <span className="muted">{page.offset + 1}–{page.offset + page.items.length}</span>
          <button disabled={!page.has_more} onClick={() => search(page.offset + PAGE)}>{t("next_page")}</button>
        </div>
      )}
      {page && page.items.length === 0 && <p className="muted">{t("no_items")}</p>}
    </div>
  );
}
