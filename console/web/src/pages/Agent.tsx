// The agent's desk: status (sign in, ready, break, wrap-up, sign out; each drives
// mod_callcenter) and the screen pop of the call on the line, live (SSE) or polled.
import { useCallback, useEffect, useState } from "react";
import { api, type Me } from "../api";
import { when } from "../format";
import { lang, t, tOr } from "../i18n";
import { errorText, Refused, useApi } from "./common";

interface Desk { agent: string; username: string; team: string; status: string; call_id: string | null; since: string }
interface Turn { who: string; text: string }
interface Pop {
  call_id: string; queue: string; priority: number; reason: string; intent: string | null;
  flags: string[]; consent_state: string | null; masked_number: string | null;
  conversation: Turn[]; flow: string; path: string[]; handed_off_at: string;
}
interface Pops { live: boolean; current: Pop | null; pops: Pop[]; last_id: string }

const ACTIONS: Record<string, string[]> = {
  logged_out: ["login"],
  on_break: ["ready", "logout"],
  ready: ["break", "wrap_up", "logout"],
  on_call: ["wrap_up"],
  wrap_up: ["ready", "break", "logout"],
};

export function Agent(props: { me: Me }) {
  const may = (p: string) => props.me.permissions.includes(p);
  const desk = useApi<Desk>("/agents/me");
  const [pop, setPop] = useState<Pop | null>(null);
  const [msg, setMsg] = useState("");
  const [reason, setReason] = useState("");
  const [clear, setClear] = useState<string | null>(null);

  const poll = useCallback(async () => {
    try {
      const got = await api<Pops>("GET", "/agents/me/pops?after=$");
      if (got.current) setPop(got.current);
    } catch { /* no desk yet: the desk panel says so */ }
  }, []);

  useEffect(() => {
    poll();
    const source = new EventSource("/api/v1/agents/me/pops/stream", { withCredentials: true });
    let timer: number | undefined;
    source.addEventListener("pop", (e) => { setPop(JSON.parse((e as MessageEvent).data)); setClear(null); desk.reload(); });
    source.addEventListener("poll", () => { source.close(); timer = window.setInterval(poll, 3000); });
    return () => { source.close(); if (timer) window.clearInterval(timer); };
  }, [poll, desk.reload]);

  const act = async (action: string) => {
    setMsg("");
    try { await api("POST", `/agents/me/${action}`); desk.reload(); } catch (e) { setMsg(errorText(e)); }
  };
  const unmask = async () => {
    if (!pop) return;
    try { setClear((await api<{ number: string }>("POST", `/screen-pops/${pop.call_id}/unmask`, { reason })).number); }
    catch (e) { setMsg(errorText(e)); }
  };

  return (
    <div>
      <h2>{t("nav_agent")}</h2>
      <Refused error={desk.error} />
      {desk.data && (
        <div className="card" data-testid="desk">
          <strong>{desk.data.agent}</strong> · {t("team_" + desk.data.team)} ·{" "}
          <span data-testid="desk-status">{t("status_" + desk.data.status)}</span> · {when(desk.data.since, lang())}
          <div className="row">
            {(ACTIONS[desk.data.status] ?? []).map((a) => (
              <button key={a} data-testid={"desk-" + a} onClick={() => act(a)}>{t("action_" + a)}</button>
            ))}
          </div>
        </div>
      )}
      {msg && <div className="banner info">{msg}</div>}
      {pop ? (
        <div className="card" data-testid="screen-pop">
          <h3>{t("screen_pop")}: {tOr("team_" + pop.queue, pop.queue)} ({t("priority")} {pop.priority})</h3>
          <div data-testid="pop-why">{t("why")}: {tOr("intent_" + (pop.intent ?? pop.reason), pop.intent ?? pop.reason)} {pop.flags.map((f) => <span key={f} className="badge danger">{t("flag_" + f)}</span>)}</div>
          <div>{t("number")}: <span data-testid="pop-number">{clear ?? pop.masked_number ?? t("withheld")}</span></div>
          <div>{t("consent")}: {pop.consent_state ? tOr("cons_" + pop.consent_state, pop.consent_state) : t("none")}</div>
          <div>{t("flow_path")}: {pop.flow} · {pop.path.join(" › ")}</div>
          <ol className="conversation">
            {pop.conversation.map((turn, i) => <li key={i}><b>{t("who_" + turn.who)}</b>: {turn.text}</li>)}
          </ol>
          {may("calls.unmask") && pop.masked_number && !clear && (
            <div className="row">
              <input placeholder={t("reason")} value={reason} onChange={(e) => setReason(e.target.value)} />
              <button disabled={!reason} onClick={unmask}>{t("unmask")}</button>
            </div>
          )}
        </div>
      ) : (
        <div className="card muted">{t("no_call")}</div>
      )}
    </div>
  );
}
