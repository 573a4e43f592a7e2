// The prompt table: every prompt's wording; disclosure and risk warning are editable by
// compliance officers only (the server refuses others, and the refusal is audited).
import { useEffect, useState } from "react";
import { api, type Me } from "../api";
import { t } from "../i18n";
import { errorText, Refused, useApi } from "./common";

type Prompt = { text?: string; audio?: string; marketing?: boolean; barge_in?: boolean; description?: string };
interface PromptsOut {
  published: { version: number; document: { prompts: Record<string, Prompt> } } | null;
  draft: { revision: number; updated_by: string; document: { prompts: Record<string, Prompt> } } | null;
  regulated: string[];
}

export function Prompts(props: { me: Me }) {
  const { data, error, reload } = useApi<PromptsOut>("/prompts");
  const [table, setTable] = useState<Record<string, Prompt>>({});
  const [msg, setMsg] = useState("");
  useEffect(() => {
    if (data) setTable(structuredClone((data.draft ?? data.published)?.document.prompts || {}));
  }, [data]);
  const mayEdit = props.me.permissions.includes("prompts.edit");
  const mayRegulated = props.me.permissions.includes("prompts.edit_regulated");
  const revision = data?.draft?.revision ?? 0;
  const save = async () => {
    try {
      const d = await api<{ revision: number }>("PUT", "/prompts/draft", { prompts: table, base_revision: revision });
      setMsg(`${t("saved")} · ${t("revision")} ${d.revision}`);
      reload();
    } catch (e) { setMsg(errorText(e)); }
  };
  const publish = async () => {
    try {
      const r = await api<{ status: string; version?: { version: number } }>("POST", "/prompts/publish", { base_revision: revision });
      setMsg(r.status === "pending" ? t("pending_approval") : `${t("published_ok")}: v${r.version?.version}`);
      reload();
    } catch (e) { setMsg(errorText(e)); }
  };
  return (
    <div>
      <h2>{t("nav_prompts")}</h2>
      <Refused error={error} />
      <p className="muted">{t("regulated_only_officer")}</p>
      {msg && <div className="banner info" data-testid="banner">{msg}</div>}
      <table className="list prompts">
        <thead><tr><th>{t("prompt_id")}</th><th>{t("text")}</th><th>{t("marketing")}</th><th>{t("barge_in")}</th></tr></thead>
        <tbody>
          {Object.entries(table).map(([id, p]) => {
            const locked = !mayEdit || (data?.regulated.includes(id) && !mayRegulated);
            return (
              <tr key={id} className={data?.regulated.includes(id) ? "regulated" : ""}>
                <td><code>{id}</code></td>
                <td>
                  <textarea data-testid={`prompt-${id}`} disabled={locked} value={p.text ?? ""}
                    onChange={(e) => setTable({ ...table, [id]: { ...p, text: e.target.value } })} />
                </td>
                <td><input type="checkbox" disabled={locked} checked={Boolean(p.marketing)} onChange={(e) => setTable({ ...table, [id]: { ...p, marketing: e.target.checked } })} /></td>
                <td><input type="checkbox" disabled={locked} checked={p.barge_in !== false} onChange={(e) => setTable({ ...table, [id]: { ...p, barge_in: e.target.checked } })} /></td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {mayEdit && (
        <div className="row">
          <button data-testid="save-prompts" onClick={save}>{t("save_draft")}</button>
          <button className="primary" disabled={!revision} onClick={publish}>{t("publish")}</button>
        </div>
      )}
    </div>
  );
}
