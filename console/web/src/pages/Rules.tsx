// Rules: the version in force, versions, edit with validation and diff, submit for approval
// (every rules change needs a second compliance officer), tell running servers to reload.
import { useEffect, useState } from "react";
import { api, type Me, type Page } from "../api";
import { when } from "../format";
import { lang, say, t, tOr } from "../i18n";
import { errorText, publisher, Refused, useApi } from "./common";

interface RulesOut {
  published: { version: number; source: string; content: string; author: string; approved_by: string | null; published_at: string } | null;
  draft: { revision: number; content: string; updated_by: string } | null;
  rules_version: string | null;
}
interface Issue { code: string; message: string; line: number; params?: Record<string, unknown> }

export function Rules(props: { me: Me }) {
  const { data, error, reload } = useApi<RulesOut>("/rules");
  const versions = useApi<Page<{ version: number; author: string; approved_by: string | null; published_at: string; source: string }>>("/rules/versions");
  const [text, setText] = useState("");
  const [issues, setIssues] = useState<Issue[]>([]);
  const [diff, setDiff] = useState("");
  const [msg, setMsg] = useState("");
  useEffect(() => { if (data) setText((data.draft ?? data.published)?.content ?? ""); }, [data]);
  const may = (p: string) => props.me.permissions.includes(p);
  const revision = data?.draft?.revision ?? 0;
  const act = async (what: string) => {
    setMsg("");
    try {
      if (what === "check") setIssues((await api<{ issues: Issue[] }>("POST", "/rules/check", { content: text })).issues);
      if (what === "save") { await api("PUT", "/rules/draft", { content: text, base_revision: revision }); reload(); setMsg(t("saved")); }
      if (what === "diff") setDiff((await api<{ diff: string }>("GET", "/rules/diff")).diff);
      if (what === "submit") { const r = await api<{ status: string }>("POST", "/rules/publish", { base_revision: revision }); setMsg(r.status === "pending" ? t("pending_approval") : t("published_ok")); reload(); }
      if (what === "reload") { const r = await api<{ version: string }>("POST", "/rules/reload"); setMsg(`${t("reload_rules")}: ${r.version}`); }
    } catch (e) { setMsg(errorText(e)); }
  };
  return (
    <div>
      <h2>{t("nav_rules")}</h2>
      <Refused error={error} />
      {data && <p data-testid="rules-version">{t("rules_version")}: <b>{data.rules_version ?? "—"}</b> · v{data.published?.version} · {data.published ? publisher(data.published) : ""}{data.published?.approved_by ? ` / ${data.published.approved_by}` : ""}</p>}
      {msg && <div className="banner info" data-testid="banner">{msg}</div>}
      <textarea className="code" data-testid="rules-text" disabled={!may("rules.edit")} value={text} onChange={(e) => setText(e.target.value)} rows={24} />
      <div className="row">
        <button onClick={() => act("check")}>{t("validate")}</button>
        {may("rules.edit") && <button onClick={() => act("save")}>{t("save_draft")}</button>}
        <button onClick={() => act("diff")}>{t("diff")}</button>
        {may("rules.edit") && <button className="primary" disabled={!revision} onClick={() => act("submit")}>{t("submit_for_approval")}</button>}
        {may("rules.reload") && <button onClick={() => act("reload")}>{t("reload_rules")}</button>}
      </div>
      {issues.length > 0 && <ul className="issues">{issues.map((i, k) => <li key={k}><b>{i.code}</b> {say({ code: "issue." + i.code, params: i.params, text: `line ${i.line}: ${i.message}` })}</li>)}</ul>}
      {diff && <pre className="diff">{diff.split("\n").map((l, i) => <div key={i} className={l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : ""}>{l}</div>)}</pre>}
      <h3>{t("versions")}</h3>
      <table className="list">
        <tbody>{versions.data?.items.map((v) => <tr key={v.version}><td>v{v.version}</td><td>{tOr("vsrc_" + v.source, v.source)}</td><td>{publisher(v)}{v.approved_by ? ` / ${v.approved_by}` : ""}</td><td>{when(v.published_at, lang())}</td></tr>)}</tbody>
      </table>
    </div>
  );
}
