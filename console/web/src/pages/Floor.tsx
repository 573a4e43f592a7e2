// The floor's work: tickets the system wrote (status and history), the callback queue
// (claim, then the gated call back), and the webhook dead letters.
import { useState } from "react";
import { api, type Me } from "../api";
import { when } from "../format";
import { joined, lang, say, t, tOr, withWhy } from "../i18n";
import { errorText, Refused, useApi } from "./common";

interface Ticket {
  id: string; call_id: string; kind: string; category: string; team: string; status: string;
  assignee: string | null; masked_number: string | null; excerpt: string; flow_path: string;
  outcome: string; recording_ref: string | null; created_at: string;
}
interface Callback {
  ticket_id: string; masked_number: string; queue: string; reason: string; due_at: string;
  overdue: boolean; claimed_by: string | null; attempts: number; result: string | null;
}
interface Delivery { id: string; target: string; event: string; status: string; attempts: number; last_error: string | null; created_at: string }

// A call back's result ("denied:dnc,quiet_hours", "failed:USER_BUSY", "connected") in words:
// the gate's reasons translated, a switch's hangup cause as FreeSWITCH names it.
function callbackResult(result: string | null): string {
  if (!result) return "";
  const cut = result.indexOf(":");
  const outcome = cut < 0 ? result : result.slice(0, cut);
  const detail = cut < 0 ? "" : result.slice(cut + 1);
  const why = outcome === "denied"
    ? joined(detail.split(",").filter(Boolean).map((r) => say({ code: "gate." + r, text: r })))
    : detail;
  return why ? withWhy(t("cbout_" + outcome), why) : t("cbout_" + outcome);
}

export function Floor(props: { me: Me }) {
  const may = (p: string) => props.me.permissions.includes(p);
  const tickets = useApi<Ticket[]>(may("tickets.read") ? "/work-tickets" : null);
  const callbacks = useApi<Callback[]>(may("callbacks.work") ? "/callbacks" : null);
  const dead = useApi<Delivery[]>(may("webhooks.read") ? "/webhooks?status=dead" : null);
  const [msg, setMsg] = useState("");
  const run = async (f: () => Promise<unknown>, reload: () => void) => {
    setMsg("");
    try {
      const r = await f();
      if (r && typeof r === "object" && "outcome" in r) {
        const { outcome, detail } = r as { outcome: string; detail: string };
        setMsg(callbackResult(detail ? `${outcome}:${detail}` : outcome));
      }
      reload();
    }
    catch (e) { setMsg(errorText(e)); }
  };
  return (
    <div>
      <h2>{t("nav_floor")}</h2>
      {msg && <div className="banner info" data-testid="floor-msg">{msg}</div>}
      <h3>{t("work_tickets")}</h3>
      <Refused error={tickets.error} />
      <table className="list" data-testid="work-tickets">
        <thead><tr><th>{t("kind")}</th><th>{t("category")}</th><th>{t("team")}</th><th>{t("number")}</th><th>{t("excerpt")}</th><th>{t("status")}</th><th /></tr></thead>
        <tbody>{(tickets.data ?? []).map((w) => (
          <tr key={w.id}>
            <td>{t("flag_" + w.kind)}</td><td>{tOr("intent_" + w.category, w.category)}</td><td>{tOr("team_" + w.team, w.team)}</td><td>{w.masked_number}</td>
            <td title={w.flow_path}>{w.excerpt}</td><td>{t("ticket_" + w.status)} {w.assignee ?? ""}</td>
            <td>{may("tickets.work") && w.status !== "resolved" && (
              <button onClick={() => run(() => api("POST", `/work-tickets/${w.id}/status`, { status: w.status === "open" ? "in_progress" : "resolved" }), tickets.reload)}>
                {w.status === "open" ? t("take") : t("resolve")}
              </button>)}</td>
          </tr>))}</tbody>
      </table>
      {may("callbacks.work") && (<>
        <h3>{t("callbacks")}</h3>
        <Refused error={callbacks.error} />
        <table className="list" data-testid="callbacks">
          <thead><tr><th>{t("number")}</th><th>{t("queue")}</th><th>{t("due")}</th><th>{t("claimed_by")}</th><th>{t("result")}</th><th /></tr></thead>
          <tbody>{(callbacks.data ?? []).map((c) => (
            <tr key={c.ticket_id} className={c.overdue ? "overdue" : ""}>
              <td>{c.masked_number}</td><td>{tOr("team_" + c.queue, c.queue)}</td><td>{when(c.due_at, lang())}{c.overdue ? ` · ${t("overdue")}` : ""}</td>
              <td>{c.claimed_by ?? ""}</td><td data-testid="callback-result">{callbackResult(c.result)}</td>
              <td>{c.claimed_by === props.me.username
                ? <button onClick={() => run(() => api("POST", `/callbacks/${c.ticket_id}/call`), callbacks.reload)}>{t("call_back")}</button>
                : !c.claimed_by && <button onClick={() => run(() => api("POST", `/callbacks/${c.ticket_id}/claim`), callbacks.reload)}>{t("claim")}</button>}</td>
            </tr>))}</tbody>
        </table>
      </>)}
      {may("webhooks.read") && (<>
        <h3>{t("dead_letters")}</h3>
        <table className="list" data-testid="dead-letters">
          <thead><tr><th>{t("target")}</th><th>{t("event")}</th><th>{t("attempts")}</th><th>{t("last_error")}</th><th /></tr></thead>
          <tbody>{(dead.data ?? []).map((d) => (
            <tr key={d.id}><td>{d.target}</td><td>{tOr("event_" + d.event, d.event)}</td><td>{d.attempts}</td><td>{d.last_error}</td>
              <td>{may("webhooks.retry") && <button onClick={() => run(() => api("POST", `/webhooks/${d.id}/retry`), dead.reload)}>{t("retry")}</button>}</td></tr>))}</tbody>
        </table>
      </>)}
    </div>
  );
}
