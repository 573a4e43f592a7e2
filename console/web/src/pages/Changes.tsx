// Changes waiting for four-eyes approval: the diff, what it touches, approve or reject.
import { useState } from "react";
import { api, type Me, type Page } from "../api";
import { when } from "../format";
import { joined, lang, t, tOr } from "../i18n";
import { errorText, Refused, useApi } from "./common";

interface Change {
  id: string; kind: string; name: string; base_version: number; touches: string[]; author: string;
  submitted_at: string; status: string; decided_by: string | null; diff: string;
}

// What a change touches ("consent:ask", "regulated:disclosure", "flow:start", "rules:2026-12-01.6"),
// in words: the category named, then the node, prompt or version (a flow field named too).
function touch(what: string): string {
  const cut = what.indexOf(":");
  const category = cut < 0 ? what : what.slice(0, cut);
  const item = cut < 0 ? "" : what.slice(cut + 1);
  const named = category === "flow" ? tOr("field_" + item, item) : item;
  return `${tOr("touch_" + category, category)}${named ? " " + named : ""}`;
}

export function Changes(props: { me: Me }) {
  const { data, error, reload } = useApi<Page<Change>>("/changes?status=pending&limit=100");
  const [open, setOpen] = useState<Change | null>(null);
  const [note, setNote] = useState("");
  const [msg, setMsg] = useState("");
  const mayApprove = props.me.permissions.includes("changes.approve");
  const show = async (id: string) => setOpen(await api<Change>("GET", `/changes/${id}`));
  const decide = async (verb: "approve" | "reject") => {
    if (!open) return;
    try {
      await api("POST", `/changes/${open.id}/${verb}`, { note });
      setMsg(`${t(verb)}: ${tOr("doc_" + open.kind, open.kind)} ${open.name}`);
      setOpen(null);
      reload();
    } catch (e) { setMsg(errorText(e)); }
  };
  return (
    <div>
      <h2>{t("nav_changes")}</h2>
      <Refused error={error} />
      {msg && <div className="banner info" data-testid="banner">{msg}</div>}
      <table className="list" data-testid="changes">
        <thead><tr><th>{t("name")}</th><th>{t("touches")}</th><th>{t("author")}</th><th>{t("submitted_at")}</th><th /></tr></thead>
        <tbody>
          {data?.items.map((c) => (
            <tr key={c.id}>
              <td>{tOr("doc_" + c.kind, c.kind)} <b>{c.name}</b> (v{c.base_version} →)</td>
              <td data-testid="touches">{joined(c.touches.map(touch))}</td>
              <td>{c.author}</td>
              <td>{when(c.submitted_at, lang())}</td>
              <td><button data-testid={`open-${c.name}`} onClick={() => show(c.id)}>{t("diff")}</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p className="muted">{t("no_items")}</p>}
      {open && (
        <div className="card">
          <h3>{tOr("doc_" + open.kind, open.kind)} {open.name} · {open.author}</h3>
          <pre className="diff">{open.diff.split("\n").map((l, i) => <div key={i} className={l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : ""}>{l}</div>)}</pre>
          {mayApprove && (
            <div className="row">
              <input placeholder={t("note")} value={note} onChange={(e) => setNote(e.target.value)} />
              <button data-testid="approve" className="primary" onClick={() => decide("approve")}>{t("approve")}</button>
              <button className="danger" onClick={() => decide("reject")}>{t("reject")}</button>
            </div>
          )}
        </div>
      )}
    </div>
  );
}
