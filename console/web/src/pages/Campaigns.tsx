// Outbound campaigns: the list with state and progress, a campaign's counts by attempt state and
// disposition, its controls (only for roles that may manage; the server still decides), the
// create form (the server's validation errors next to their fields), list import (per-row
// errors as row, column, why: never the number) and the masked CSV export.
import { useState, type ReactNode } from "react";
import { api, ApiError, upload, type Me } from "../api";
import { when } from "../format";
import { lang, say, t } from "../i18n";
import { errorText, Refused, useApi } from "./common";

interface Progress { contacts: number; attempts: number; done: number; open: number; percent: number }
interface Campaign {
  id: string; name: string; state: string; flow: string; purpose: string; pacing: string; priority: number;
  max_attempts: number; max_concurrency: number; max_cps: number; windows: string[]; caller_ids: string[];
  start_date: string | null; end_date: string | null; created_by: string; created_at: string; updated_at: string;
  progress: Progress;
}
interface Detail extends Campaign {
  dispositions: Record<string, number>; states: Record<string, number>; next_due: string | null;
}
interface Choices { flows: string[]; purposes: Array<{ purpose: string; window: string | null }>; timezone: string }
interface RowError { row: number; column: string; why: string; code?: string; params?: Record<string, unknown> }
interface ImportOut { import_id: string; rows: number; accepted: number; merged: number; repeated: boolean; errors: RowError[] }

const ACTIONS: Record<string, string[]> = {
  draft: ["start", "stop"], running: ["pause", "stop"], paused: ["resume", "stop"], stopped: [], finished: [],
};

function Bar(props: { progress: Progress; testid?: string }) {
  const p = props.progress;
  return (
    <div className="progress" data-testid={props.testid} title={`${p.done}/${p.attempts}`}>
      <div className="progress-bar" style={{ width: `${Math.min(100, p.percent)}%` }} />
      <span className="progress-text">{p.percent}% · {p.done}/{p.attempts}</span>
    </div>
  );
}

function StateBadge(props: { state: string }) {
  return <span className={`badge state-${props.state}`} data-testid="campaign-state">{t("cstate_" + props.state)}</span>;
}

export function Campaigns(props: { me: Me; id?: string }) {
  return props.id ? <CampaignDetail me={props.me} id={props.id} /> : <CampaignList me={props.me} />;
}

function CampaignList(props: { me: Me }) {
  const { data, error, reload } = useApi<Campaign[]>("/campaigns");
  const manage = props.me.permissions.includes("campaigns.manage");
  const [creating, setCreating] = useState(false);
  if (error) return <div><h2>{t("nav_campaigns")}</h2><Refused error={error} /></div>;
  return (
    <div>
      <div className="toolbar">
        <h2>{t("nav_campaigns")}</h2>
        <span className="spacer" />
        {manage && !creating && <button className="primary" data-testid="campaign-new" onClick={() => setCreating(true)}>{t("campaign_new")}</button>}
      </div>
      {creating && (
        <CreateForm
          onCancel={() => setCreating(false)}
          onCreated={(c) => { setCreating(false); reload(); window.location.hash = "#/campaigns/" + encodeURIComponent(c.id); }}
        />
      )}
      <table className="list" data-testid="campaigns">
        <thead>
          <tr>
            <th>{t("campaign_name")}</th><th>{t("status")}</th><th className="wide-col">{t("campaign_progress")}</th>
            <th>{t("contacts")}</th><th>{t("flow")}</th><th>{t("purpose")}</th><th>{t("created_at")}</th>
          </tr>
        </thead>
        <tbody>
          {data?.map((c) => (
            <tr key={c.id} data-testid={`campaign-row-${c.name}`}>
              <td><a href={"#/campaigns/" + encodeURIComponent(c.id)}>{c.name}</a></td>
              <td><StateBadge state={c.state} /></td>
              <td><Bar progress={c.progress} /></td>
              <td>{c.progress.contacts}</td>
              <td>{c.flow}</td>
              <td>{t("purpose_" + c.purpose)}</td>
              <td>{when(c.created_at, lang())}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.length === 0 && <p className="muted">{t("no_campaigns")}</p>}
    </div>
  );
}

const EMPTY_FORM = {
  name: "", flow: "", purpose: "", caller_ids: "", windows: "09:00-20:00", start_date: "", end_date: "",
  max_attempts: "3", max_concurrency: "10", max_cps: "5", pacing: "bot", priority: "5",
};
type FormKey = keyof typeof EMPTY_FORM;

function CreateForm(props: { onCreated: (c: Detail) => void; onCancel: () => void }) {
  const { data: choices } = useApi<Choices>("/campaign-choices");
  const [form, setForm] = useState(EMPTY_FORM);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [msg, setMsg] = useState("");
  const list = (s: string) => s.split(/[,，\s]+/).map((x) => x.trim()).filter(Boolean);
  const submit = async () => {
    const body: Record<string, unknown> = {
      name: form.name, flow: form.flow, purpose: form.purpose,
      caller_ids: list(form.caller_ids), windows: list(form.windows),
      start_date: form.start_date || null, end_date: form.end_date || null,
      max_attempts: Number(form.max_attempts), max_concurrency: Number(form.max_concurrency),
      max_cps: Number(form.max_cps), pacing: form.pacing, priority: Number(form.priority),
    };
    try {
      props.onCreated(await api<Detail>("POST", "/campaigns", body));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const found: Record<string, string> = {};
      for (const err of e.problem.errors ?? []) {
        const loc = (err.loc as string[] | undefined) ?? [];
        const field = loc[1] ?? "";
        const text = say({ code: err.code as string | undefined, params: err.params as Record<string, unknown> | undefined, text: String(err.msg) });
        if (field) found[field] = found[field] ? `${found[field]}; ${text}` : text;
      }
      setErrors(found);
      setMsg(Object.keys(found).length ? t("campaign_fix_fields") : errorText(e));
    }
  };
  const set = (k: FormKey) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const field = (k: FormKey, label: string, input: ReactNode, hint?: string) => (
    <label className={"field" + (errors[k] ? " invalid" : "")} data-testid={`cf-${k}`}>
      <span>{label}{hint && <em className="muted"> {hint}</em>}</span>
      {input}
      {errors[k] && <span className="field-error" data-testid={`cf-error-${k}`}>{errors[k]}</span>}
    </label>
  );
  const rulesWindow = choices?.purposes.find((p) => p.purpose === form.purpose)?.window;
  return (
    <form className="card create-campaign" data-testid="campaign-form" onSubmit={(e) => { e.preventDefault(); submit(); }}>
      <h3>{t("campaign_new")}</h3>
      {msg && <div className="banner error" role="alert">{msg}</div>}
      <div className="form-grid">
        {field("name", t("campaign_name"), <input name="name" value={form.name} onChange={set("name")} />)}
        {field("flow", t("flow"), (
          <select name="flow" value={form.flow} onChange={set("flow")}>
            <option value="">—</option>
            {choices?.flows.map((f) => <option key={f} value={f}>{f}</option>)}
          </select>
        ))}
        {field("purpose", t("purpose"), (
          <select name="purpose" value={form.purpose} onChange={set("purpose")}>
            <option value="">—</option>
            {choices?.purposes.map((p) => <option key={p.purpose} value={p.purpose}>{t("purpose_" + p.purpose)}</option>)}
          </select>
        ), form.purpose ? `${t("rules_window")} ${rulesWindow ?? t("any_time")}` : undefined)}
        {field("caller_ids", t("caller_ids"), <input name="caller_ids" placeholder="95588, 95589" value={form.caller_ids} onChange={set("caller_ids")} />)}
        {field("windows", t("daily_windows"), <input name="windows" placeholder="09:00-12:00, 14:00-20:00" value={form.windows} onChange={set("windows")} />, t("callee_local"))}
        {field("start_date", t("start_date"), <input type="date" name="start_date" value={form.start_date} onChange={set("start_date")} />)}
        {field("end_date", t("end_date"), <input type="date" name="end_date" value={form.end_date} onChange={set("end_date")} />)}
        {field("max_attempts", t("max_attempts"), <input type="number" name="max_attempts" min={1} max={20} value={form.max_attempts} onChange={set("max_attempts")} />)}
        {field("max_concurrency", t("max_concurrency"), <input type="number" name="max_concurrency" min={1} value={form.max_concurrency} onChange={set("max_concurrency")} />)}
        {field("max_cps", t("max_cps"), <input type="number" name="max_cps" step="0.1" min={0.1} value={form.max_cps} onChange={set("max_cps")} />)}
        {field("pacing", t("pacing"), (
          <select name="pacing" value={form.pacing} onChange={set("pacing")}>
            <option value="bot">{t("pacing_bot")}</option>
            <option value="agent">{t("pacing_agent")}</option>
          </select>
        ))}
        {field("priority", t("priority"), <input type="number" name="priority" min={0} max={9} value={form.priority} onChange={set("priority")} />)}
      </div>
      <div className="row">
        <button type="submit" className="primary" data-testid="campaign-create">{t("create")}</button>
        <button type="button" onClick={props.onCancel}>{t("cancel")}</button>
      </div>
    </form>
  );
}

function Counts(props: { title: string; counts: Record<string, number>; prefix: string; testid: string }) {
  const entries = Object.entries(props.counts).sort((a, b) => b[1] - a[1]);
  return (
    <div className="card counts">
      <h3>{props.title}</h3>
      <table className="list" data-testid={props.testid}>
        <tbody>
          {entries.map(([k, n]) => <tr key={k}><td>{t(props.prefix + k)}</td><td className="num">{n}</td></tr>)}
          {entries.length === 0 && <tr><td className="muted">—</td></tr>}
        </tbody>
      </table>
    </div>
  );
}

function CampaignDetail(props: { me: Me; id: string }) {
  const { data: c, error, reload } = useApi<Detail>("/campaigns/" + encodeURIComponent(props.id));
  const manage = props.me.permissions.includes("campaigns.manage");
  const [msg, setMsg] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [result, setResult] = useState<ImportOut | null>(null);
  const [busy, setBusy] = useState(false);
  if (error) return <div><h2>{t("nav_campaigns")}</h2><Refused error={error} /></div>;
  if (!c) return <div className="loading">{t("loading")}</div>;
  const act = async (action: string) => {
    setBusy(true);
    try { await api("POST", `/campaigns/${encodeURIComponent(c.id)}/${action}`); setMsg(""); reload(); }
    catch (e) { setMsg(errorText(e)); }
    finally { setBusy(false); }
  };
  const importList = async () => {
    if (!file) return;
    setBusy(true);
    const form = new FormData();
    form.append("file", file, file.name);
    try { setResult(await upload<ImportOut>(`/campaigns/${encodeURIComponent(c.id)}/import`, form)); setMsg(""); reload(); }
    catch (e) { setResult(null); setMsg(errorText(e)); }
    finally { setBusy(false); }
  };
  return (
    <div>
      <div className="toolbar">
        <a href="#/campaigns">← {t("nav_campaigns")}</a>
        <h2 data-testid="campaign-title">{c.name}</h2>
        <StateBadge state={c.state} />
        <span className="spacer" />
        {manage && (ACTIONS[c.state] ?? []).map((a) => (
          <button key={a} className={a === "stop" ? "danger" : "primary"} disabled={busy} data-testid={`campaign-${a}`} onClick={() => act(a)}>
            {t("caction_" + a)}
          </button>
        ))}
        <a className="button" data-testid="campaign-export" href={`/api/v1/campaigns/${encodeURIComponent(c.id)}/export`} download>{t("export_csv")}</a>
      </div>
      {msg && <div className="banner error" role="alert" data-testid="campaign-msg">{msg}</div>}
      <Bar progress={c.progress} testid="campaign-progress" />
      <div className="card">
        <dl className="facts">
          <dt>{t("flow")}</dt><dd>{c.flow}</dd>
          <dt>{t("purpose")}</dt><dd>{t("purpose_" + c.purpose)}</dd>
          <dt>{t("daily_windows")}</dt><dd>{c.windows.join(", ")} <span className="muted">{t("callee_local")}</span></dd>
          <dt>{t("dates")}</dt><dd>{c.start_date || c.end_date ? `${c.start_date ?? "…"} – ${c.end_date ?? "…"}` : "—"}</dd>
          <dt>{t("caps")}</dt><dd>{t("max_attempts")} {c.max_attempts} · {t("max_concurrency")} {c.max_concurrency} · {t("max_cps")} {c.max_cps}</dd>
          <dt>{t("pacing")}</dt><dd>{t("pacing_" + c.pacing)} · {t("priority")} {c.priority}</dd>
          <dt>{t("contacts")}</dt><dd data-testid="campaign-contacts">{c.progress.contacts}</dd>
          <dt>{t("next_due")}</dt><dd>{when(c.next_due, lang())}</dd>
          <dt>{t("created_at")}</dt><dd>{when(c.created_at, lang())} · {c.created_by}</dd>
        </dl>
      </div>
      <div className="counts-row">
        <Counts title={t("by_attempt_state")} counts={c.states} prefix="astate_" testid="campaign-states" />
        <Counts title={t("by_disposition")} counts={c.dispositions} prefix="disp_" testid="campaign-dispositions" />
      </div>
      {manage && (
        <div className="card">
          <h3>{t("import_list")}</h3>
          <p className="muted">{t("import_hint")}</p>
          <div className="row">
            <input type="file" accept=".csv,.xlsx" data-testid="campaign-file" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
            <button className="primary" disabled={!file || busy} data-testid="campaign-upload" onClick={importList}>{t("upload")}</button>
          </div>
          {result && (
            <div data-testid="import-result">
              <div className={"banner " + (result.errors.length ? "info" : "ok")}>
                {result.repeated ? t("import_repeated") + " · " : ""}
                {t("import_rows")} {result.rows} · {t("import_accepted")} {result.accepted} · {t("import_merged")} {result.merged} · {t("import_rejected")} {result.errors.length}
              </div>
              {result.errors.length > 0 && (
                <table className="list" data-testid="import-errors">
                  <thead><tr><th>{t("row")}</th><th>{t("column")}</th><th>{t("why_rejected")}</th></tr></thead>
                  <tbody>
                    {result.errors.map((e) => <tr key={`${e.row}-${e.column}`}><td>{e.row}</td><td>{e.column}</td><td>{say({ code: e.code, params: e.params, text: e.why })}</td></tr>)}
                  </tbody>
                </table>
              )}
            </div>
          )}
        </div>
      )}
    </div>
  );
}
