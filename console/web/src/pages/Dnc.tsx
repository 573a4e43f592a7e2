// DNC: check and add by number, the masked list, removal by a compliance officer with a reason.
import { useState } from "react";
import { api, type Me, type Page } from "../api";
import { when } from "../format";
import { lang, t, tOr } from "../i18n";
import { errorText, Refused, useApi } from "./common";

interface DncOut { number: string; dnc: boolean; source?: string | null; reason?: string | null; since?: string | null }
interface DncEntry { number: string; source: string; reason: string; actor: string; since: string }

export function Dnc(props: { me: Me }) {
  const may = (p: string) => props.me.permissions.includes(p);
  const list = useApi<Page<DncEntry>>(may("dnc.list") ? "/dnc?limit=100" : null);
  const [number, setNumber] = useState("");
  const [reason, setReason] = useState("");
  const [result, setResult] = useState<DncOut | null>(null);
  const [msg, setMsg] = useState("");
  const run = async (what: "check" | "add" | "remove") => {
    setMsg("");
    try {
      if (what === "check") setResult(await api<DncOut>("POST", "/dnc/check", { number }));
      if (what === "add") { setResult(await api<DncOut>("POST", "/dnc", { number, reason: reason || "operator" })); list.reload(); }
      if (what === "remove") { const r = await api<{ number: string; removed: boolean }>("POST", "/dnc/remove", { number, reason }); setMsg(`${r.number}: ${r.removed ? t("dnc_removed") : t("dnc_not_listed")}`); list.reload(); }
    } catch (e) { setMsg(errorText(e)); }
  };
  return (
    <div>
      <h2>{t("nav_dnc")}</h2>
      <div className="row">
        <input data-testid="dnc-number" placeholder={t("number")} value={number} onChange={(e) => setNumber(e.target.value)} />
        <input placeholder={t("reason")} value={reason} onChange={(e) => setReason(e.target.value)} />
        <button data-testid="dnc-check" onClick={() => run("check")}>{t("check")}</button>
        {may("dnc.add") && <button onClick={() => run("add")}>{t("add_dnc")}</button>}
        {may("dnc.remove") && <button className="danger" disabled={!reason} onClick={() => run("remove")}>{t("remove_dnc")}</button>}
      </div>
      {msg && <div className="banner info">{msg}</div>}
      {result && <div className="card" data-testid="dnc-result">{result.number}: {result.dnc ? t("on_dnc") : t("not_on_dnc")} {result.source ? `(${tOr("dncsrc_" + result.source, result.source)}: ${tOr("dncreason_" + result.reason, result.reason ?? "")})` : ""} {when(result.since, lang())}</div>}
      <Refused error={list.error} />
      {list.data && (
        <table className="list">
          <thead><tr><th>{t("number")}</th><th>{t("source")}</th><th>{t("reason")}</th><th>{t("since")}</th></tr></thead>
          <tbody>{list.data.items.map((d, i) => <tr key={i}><td>{d.number}</td><td>{tOr("dncsrc_" + d.source, d.source)}</td><td>{tOr("dncreason_" + d.reason, d.reason)}</td><td>{when(d.since, lang())}</td></tr>)}</tbody>
        </table>
      )}
    </div>
  );
}
