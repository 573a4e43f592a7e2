// Quality inspection: per-call results with every hit (speaker, offset into the recording,
// phrase, rule, rules version), the live alert stream for supervisors (long polling of
// /qa/alerts), report downloads (HTML, PDF), batch QA of stored recordings with progress, and
// the rules in force (one sentence checked against them; a rules text validated, line by line).
import { Fragment, useEffect, useRef, useState } from "react";
import { api, ApiError, type Me, type Page } from "../api";
import { when, zonedDay, zonedIso } from "../format";
import { lang, say, t } from "../i18n";
import { Refused, errorText } from "./common";

interface Finding {
  kind: string; rule: string; category: string; severity: string; speaker: string | null;
  offset_ms: number | null; phrase: string; wording: string; rules_version: string;
}
interface Result {
  result_id: string; call_id: string; source: string; purpose: string; campaign: string | null;
  flow: string | null; agent_id: string | null; call_started_at: string; score: number;
  passed: boolean; rules_version: string; findings: Finding[];
}
interface Alert {
  id: string; call_id: string; speaker: string; offset_ms: number; rule: string; category: string;
  severity: string; phrase: string; rules_version: string; raised_at: number; campaign: string;
  agent_id: string; blocked: boolean;
}
interface Alerts { available: boolean; alerts: Alert[]; last_id: string }
interface Job {
  job_id: string; status: string; running: boolean; total: number; done: number; failed: number;
  started_from: string | null; started_to: string | null;
}

const TABS: Array<[string, string]> = [
  ["results", "qa.read"], ["alerts", "qa.alerts"], ["reports", "qa.reports"], ["batch", "qa.batch"],
  ["rules", "qa.read"],
];
interface QaRulesOut {
  version: string; sha256: string; effective_from: string;
  rules: Array<{ id: string; category: string; severity: string }>;
}
interface Issue { code: string; message: string; line: number; params?: Record<string, unknown> }
interface Checked { flagged: boolean; hits: Array<{ category: string; rule: string; said: string }>; bot_says_instead: string | null }

function offset(ms: number | null): string {
  if (ms === null) return "—";
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// a typed wall time is the institution's (the page shows every time in its zone)
const iso = zonedIso;

const PAGE = 50;

function Results() {
  const [query, setQuery] = useState({ started_from: "", started_to: "", call_id: "", passed: "" });
  const [page, setPage] = useState<Page<Result> | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const search = async (offset = 0) => {
    const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    const from = iso(query.started_from), to = iso(query.started_to);
    if (from) params.set("started_from", from);
    if (to) params.set("started_to", to);
    if (query.call_id) params.set("call_id", query.call_id);
    if (query.passed) params.set("passed", query.passed);
    try { setPage(await api<Page<Result>>("GET", "/qa/results?" + params)); setError(null); }
    catch (e) { if (e instanceof ApiError) setError(e); else throw e; }
  };
  useEffect(() => { search(); }, []);  // eslint-disable-line react-hooks/exhaustive-deps
  if (error) return <Refused error={error} />;
  return (
    <div>
      <div className="row wrap">
        <label>{t("from")} <input type="datetime-local" value={query.started_from} onChange={(e) => setQuery({ ...query, started_from: e.target.value })} /></label>
        <label>{t("to")} <input type="datetime-local" value={query.started_to} onChange={(e) => setQuery({ ...query, started_to: e.target.value })} /></label>
        <input placeholder={t("call_id")} value={query.call_id} onChange={(e) => setQuery({ ...query, call_id: e.target.value })} />
        <select data-testid="qa-passed" value={query.passed} onChange={(e) => setQuery({ ...query, passed: e.target.value })}>
          <option value="">{t("qa_all")}</option>
          <option value="false">{t("qa_failed")}</option>
          <option value="true">{t("qa_passed")}</option>
        </select>
        <button data-testid="qa-search" onClick={() => search()}>{t("search")}</button>
      </div>
      <table className="list" data-testid="qa-results">
        <thead><tr><th>{t("started_at")}</th><th>{t("call_id")}</th><th>{t("source")}</th><th>{t("campaign")}</th><th>{t("agent")}</th><th>{t("qa_score")}</th><th>{t("qa_verdict")}</th><th>{t("qa_findings")}</th><th>{t("rules_version")}</th></tr></thead>
        <tbody>
          {page?.items.map((r) => (
            <Fragment key={r.result_id}>
              <tr className="clickable" data-testid={`qa-row-${r.call_id}`} onClick={() => setOpen(open === r.result_id ? null : r.result_id)}>
                <td>{when(r.call_started_at, lang())}</td><td>{r.call_id}</td><td>{t("qa_source_" + r.source)}</td>
                <td>{r.campaign ?? "—"}</td><td>{r.agent_id ?? "—"}</td><td>{r.score}</td>
                <td className={r.passed ? "ok" : "bad"}>{r.passed ? t("qa_passed") : t("qa_failed")}</td>
                <td>{r.findings.length}</td><td>{r.rules_version}</td>
              </tr>
              {open === r.result_id && (
                <tr>
                  <td colSpan={9}>
                    <table className="list inner" data-testid="qa-hits">
                      <thead><tr><th>{t("qa_offset")}</th><th>{t("qa_speaker")}</th><th>{t("qa_kind")}</th><th>{t("qa_category")}</th><th>{t("qa_rule")}</th><th>{t("qa_phrase")}</th><th>{t("rules_version")}</th></tr></thead>
                      <tbody>
                        {r.findings.map((f, i) => (
                          <tr key={i}>
                            <td>{offset(f.offset_ms)}</td><td>{f.speaker ? t("qa_speaker_" + f.speaker) : "—"}</td>
                            <td>{t("qa_kind_" + f.kind)}</td><td>{t("qa_cat_" + f.category)}</td><td>{f.rule}</td>
                            <td className="phrase">{f.phrase}</td><td>{f.rules_version}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
      {page && (
        <div className="row">
          <span className="muted">{t("total")}: {page.total}</span>
          {page.total > PAGE && (<>
            <button disabled={page.offset === 0} onClick={() => search(Math.max(0, page.offset - PAGE))}>{t("previous_page")}</button>
            <span className="muted">{page.offset + 1}–{page.offset + page.items.length}</span>
            <button disabled={page.offset + page.items.length >= page.total} onClick={() => search(page.offset + PAGE)}>{t("next_page")}</button>
          </>)}
        </div>
      )}
      {page && page.items.length === 0 && <p className="muted">{t("no_items")}</p>}
    </div>
  );
}

function LiveAlerts() {
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [available, setAvailable] = useState<boolean | null>(null);
  const [error, setError] = useState<string>("");
  const [refused, setRefused] = useState<ApiError | null>(null);
  useEffect(() => {
    let live = true;
    let after: string | null = null;
    (async () => {
      while (live) {
        try {
          const path: string = after === null ? "/qa/alerts?limit=100" : `/qa/alerts?after=${after}&wait_ms=5000`;
          const got: Alerts = await api<Alerts>("GET", path);
          if (!live) return;
          setAvailable(got.available);
          setError("");
          if (!got.available) return;
          after = got.last_id;
          if (got.alerts.length) setAlerts((old) => [...got.alerts.slice().reverse(), ...old].slice(0, 200));
        } catch (e) {
          if (!live) return;
          if (e instanceof ApiError && e.status === 403) { setRefused(e); return; }
          setError(errorText(e));
          await new Promise((r) => setTimeout(r, 2000));
        }
      }
    })();
    return () => { live = false; };
  }, []);
  if (refused) return <Refused error={refused} />;
  return (
    <div>
      {available === false && <div className="banner info" data-testid="qa-alerts-off">{t("qa_alerts_off")}</div>}
      {available && <div className="banner ok">{t("qa_alerts_live")}</div>}
      {error && <div className="banner error">{error}</div>}
      <table className="list" data-testid="qa-alerts">
        <thead><tr><th>{t("qa_raised_at")}</th><th>{t("call_id")}</th><th>{t("qa_speaker")}</th><th>{t("qa_offset")}</th><th>{t("qa_category")}</th><th>{t("qa_rule")}</th><th>{t("qa_phrase")}</th><th>{t("campaign")}</th><th>{t("agent")}</th></tr></thead>
        <tbody>
          {alerts.map((a) => (
            <tr key={a.id} className={a.severity === "critical" ? "bad" : ""}>
              <td>{when(new Date(a.raised_at * 1000).toISOString(), lang())}</td><td>{a.call_id}</td>
              <td>{t("qa_speaker_" + a.speaker)}{a.blocked ? ` (${t("qa_blocked")})` : ""}</td><td>{offset(a.offset_ms)}</td>
              <td>{t("qa_cat_" + a.category)}</td><td>{a.rule}</td><td className="phrase">{a.phrase}</td>
              <td>{a.campaign || "—"}</td><td>{a.agent_id || "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {available && alerts.length === 0 && <p className="muted">{t("qa_no_alerts")}</p>}
    </div>
  );
}

function Reports() {
  const [q, setQ] = useState({ start: zonedDay(-7), end: zonedDay(1), period: "day" });
  const [msg, setMsg] = useState("");
  // fetched, so a refused range is said on the page (a plain link would save the problem as a file)
  const download = async (fmt: string) => {
    setMsg("");
    try {
      const blob = await api<Blob>("GET", `/qa/report?${new URLSearchParams({ ...q, format: fmt })}`);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `qa-report-${q.start}-${q.end}.${fmt}`;
      link.click();
      window.setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    } catch (e) { setMsg(errorText(e)); }
  };
  return (
    <div>
    {msg && <div className="banner error" data-testid="qa-report-msg">{msg}</div>}
    <div className="row wrap">
      <label>{t("qa_first_day")} <input type="date" data-testid="qa-report-start" value={q.start} onChange={(e) => setQ({ ...q, start: e.target.value })} /></label>
      <label>{t("qa_day_after")} <input type="date" data-testid="qa-report-end" value={q.end} onChange={(e) => setQ({ ...q, end: e.target.value })} /></label>
      <select value={q.period} onChange={(e) => setQ({ ...q, period: e.target.value })}>
        <option value="day">{t("qa_daily")}</option>
        <option value="week">{t("qa_weekly")}</option>
      </select>
      <button data-testid="qa-report-html" onClick={() => download("html")}>{t("qa_download")} HTML</button>
      <button data-testid="qa-report-pdf" onClick={() => download("pdf")}>{t("qa_download")} PDF</button>
    </div>
    </div>
  );
}

function Batch() {
  const [range, setRange] = useState({ started_from: "", started_to: "" });
  const [jobs, setJobs] = useState<Job[]>([]);
  const [msg, setMsg] = useState("");
  const [refused, setRefused] = useState<ApiError | null>(null);
  const timer = useRef<number | undefined>(undefined);
  const load = async () => {
    try {
      const got = await api<Job[]>("GET", "/qa/batch");
      setJobs(got);
      window.clearTimeout(timer.current);
      if (got.some((j) => j.running)) timer.current = window.setTimeout(load, 1000);
    } catch (e) { if (e instanceof ApiError && e.status === 403) setRefused(e); else setMsg(errorText(e)); }
  };
  useEffect(() => { load(); return () => window.clearTimeout(timer.current); }, []);  // eslint-disable-line react-hooks/exhaustive-deps
  const start = async () => {
    const from = iso(range.started_from), to = iso(range.started_to);
    if (!from || !to) { setMsg(t("qa_pick_range")); return; }
    try { await api<Job>("POST", "/qa/batch", { started_from: from, started_to: to }); setMsg(""); load(); }
    catch (e) { setMsg(errorText(e)); }
  };
  if (refused) return <Refused error={refused} />;
  return (
    <div>
      <div className="row wrap">
        <label>{t("from")} <input type="datetime-local" data-testid="qa-batch-from" value={range.started_from} onChange={(e) => setRange({ ...range, started_from: e.target.value })} /></label>
        <label>{t("to")} <input type="datetime-local" data-testid="qa-batch-to" value={range.started_to} onChange={(e) => setRange({ ...range, started_to: e.target.value })} /></label>
        <button data-testid="qa-batch-start" onClick={start}>{t("qa_batch_start")}</button>
      </div>
      {msg && <div className="banner error">{msg}</div>}
      <table className="list" data-testid="qa-jobs">
        <thead><tr><th>{t("from")}</th><th>{t("to")}</th><th>{t("status")}</th><th>{t("qa_progress")}</th><th>{t("qa_failed_items")}</th></tr></thead>
        <tbody>
          {jobs.map((j) => (
            <tr key={j.job_id} data-testid={`qa-job-${j.status}`}>
              <td>{when(j.started_from, lang())}</td><td>{when(j.started_to, lang())}</td>
              <td>{j.running ? t("qa_running") : t("qa_job_" + j.status)}</td>
              <td><progress max={Math.max(j.total, 1)} value={j.done + j.failed} /> {j.done + j.failed}/{j.total}</td>
              <td>{j.failed}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function QaRules() {
  const [inForce, setInForce] = useState<QaRulesOut | null>(null);
  const [refused, setRefused] = useState<ApiError | null>(null);
  const [sentence, setSentence] = useState({ text: "", speaker: "bot" });
  const [checked, setChecked] = useState<Checked | null>(null);
  const [text, setText] = useState("");
  const [issues, setIssues] = useState<Issue[] | null>(null);
  const [msg, setMsg] = useState("");
  useEffect(() => {
    api<QaRulesOut>("GET", "/qa/rules").then(setInForce).catch((e) => { if (e instanceof ApiError) setRefused(e); else throw e; });
  }, []);
  const check = async () => {
    try { setChecked(await api<Checked>("POST", "/qa/check", sentence)); setMsg(""); } catch (e) { setMsg(errorText(e)); }
  };
  const validate = async () => {
    try { setIssues((await api<{ issues: Issue[] }>("POST", "/qa/rules/check", { content: text })).issues); setMsg(""); }
    catch (e) { setMsg(errorText(e)); }
  };
  if (refused) return <Refused error={refused} />;
  return (
    <div>
      {inForce && <p data-testid="qa-rules-in-force">{t("rules_version")}: <b>{inForce.version}</b> · {inForce.rules.length} · {when(inForce.effective_from, lang())}</p>}
      {msg && <div className="banner error">{msg}</div>}
      <div className="row wrap">
        <input data-testid="qa-sentence" size={40} placeholder={t("qa_sentence")} value={sentence.text} onChange={(e) => setSentence({ ...sentence, text: e.target.value })} />
        <select value={sentence.speaker} onChange={(e) => setSentence({ ...sentence, speaker: e.target.value })}>
          <option value="bot">{t("qa_speaker_bot")}</option><option value="agent">{t("qa_speaker_agent")}</option>
        </select>
        <button data-testid="qa-sentence-check" disabled={!sentence.text} onClick={check}>{t("validate")}</button>
      </div>
      {checked && (
        <div data-testid="qa-sentence-result" className={checked.flagged ? "bad" : "ok"}>
          {checked.flagged ? checked.hits.map((h, i) => <div key={i}>{t("qa_cat_" + h.category)} · <small className="muted">{h.rule}</small> · {h.said}</div>) : t("qa_passed")}
          {checked.bot_says_instead && <div className="muted">{checked.bot_says_instead}</div>}
        </div>
      )}
      <h3>{t("qa_rules_validate")}</h3>
      <textarea className="code" data-testid="qa-rules-text" rows={14} value={text} onChange={(e) => setText(e.target.value)} />
      <div className="row"><button data-testid="qa-rules-check" disabled={!text} onClick={validate}>{t("validate")}</button></div>
      {issues && issues.length === 0 && <p className="ok" data-testid="qa-rules-ok">{t("qa_rules_ok")}</p>}
      {issues && issues.length > 0 && <ul className="issues" data-testid="qa-rules-issues">{issues.map((i, k) => <li key={k}>{say({ code: "issue." + i.code, params: i.params, text: `line ${i.line}: ${i.message}` })}</li>)}</ul>}
    </div>
  );
}

export function Qa(props: { me: Me }) {
  const mine = TABS.filter(([, p]) => props.me.permissions.includes(p));
  const [tab, setTab] = useState(mine[0]?.[0] ?? "results");
  return (
    <div>
      <h2>{t("nav_qa")}</h2>
      <div className="tabs">
        {mine.map(([name]) => (
          <button key={name} data-testid={`qa-tab-${name}`} className={tab === name ? "on" : ""} onClick={() => setTab(name)}>{t("qa_tab_" + name)}</button>
        ))}
      </div>
      {tab === "results" && <Results />}
      {tab === "alerts" && <LiveAlerts />}
      {tab === "reports" && <Reports />}
      {tab === "batch" && <Batch />}
      {tab === "rules" && <QaRules />}
    </div>
  );
}
