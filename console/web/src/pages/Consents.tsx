// Consents per customer: every consent on file (revoked and expired included), revoke one.
import { useState } from "react";
import { api, type Me } from "../api";
import { when } from "../format";
import { lang, t, tOr } from "../i18n";
import { errorText } from "./common";

interface Consent { id: string; purpose: string; scope: string; channel: string; granted_at: string; expires_at: string | null; revoked_at: string | null; call_id: string | null }

export function Consents(props: { me: Me }) {
  const [number, setNumber] = useState("");
  const [rows, setRows] = useState<Consent[] | null>(null);
  const [msg, setMsg] = useState("");
  const search = async () => {
    setMsg("");
    try { setRows(await api<Consent[]>("POST", "/consents/search", { number })); } catch (e) { setMsg(errorText(e)); }
  };
  const revoke = async (purpose: string) => {
    try { await api("POST", "/consents/revoke", { number, purpose, reason: "customer request", channel: "console" }); search(); } catch (e) { setMsg(errorText(e)); }
  };
  return (
    <div>
      <h2>{t("nav_consents")}</h2>
      <div className="row">
        <input data-testid="consent-number" placeholder={t("customer_number")} value={number} onChange={(e) => setNumber(e.target.value)} />
        <button data-testid="consent-search" onClick={search}>{t("search")}</button>
      </div>
      {msg && <div className="banner error">{msg}</div>}
      {rows && (
        <table className="list" data-testid="consents">
          <thead><tr><th>{t("purpose")}</th><th>{t("scope")}</th><th>{t("channel")}</th><th>{t("granted_at")}</th><th>{t("expires_at")}</th><th>{t("revoked_at")}</th><th /></tr></thead>
          <tbody>
            {rows.map((c) => (
              <tr key={c.id}>
                <td>{tOr("purpose_" + c.purpose, c.purpose)}</td><td>{c.scope}</td><td>{tOr("channel_" + c.channel, c.channel)}</td>
                <td>{when(c.granted_at, lang())}</td><td>{when(c.expires_at, lang())}</td><td>{when(c.revoked_at, lang())}</td>
                <td>{!c.revoked_at && props.me.permissions.includes("consent.revoke") && <button className="tiny" onClick={() => revoke(c.purpose)}>{t("revoke")}</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {rows && rows.length === 0 && <p className="muted">{t("no_items")}</p>}
    </div>
  );
}
