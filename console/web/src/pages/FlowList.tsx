import { useState } from "react";
import type { Me, Page } from "../api";
import { when } from "../format";
import { lang, t } from "../i18n";
import { Refused, useApi } from "./common";

interface FlowSummary {
  name: string;
  version: number | null;
  published_at: string | null;
  draft_revision: number | null;
  draft_by: string | null;
  pending_changes: number;
}

export function FlowList(props: { me: Me }) {
  const { data, error } = useApi<Page<FlowSummary>>("/flows?limit=500");
  const [name, setName] = useState("");
  return (
    <div>
      <h2>{t("nav_flows")}</h2>
      <Refused error={error} />
      {props.me.permissions.includes("flows.edit") && (
        <form className="row" onSubmit={(e) => { e.preventDefault(); if (/^[a-z][a-z0-9_]*$/.test(name)) window.location.hash = `#/flows/${name}`; }}>
          <input data-testid="new-flow-name" placeholder="wealth_promo" value={name} onChange={(e) => setName(e.target.value)} />
          <button data-testid="new-flow" type="submit">{t("new_flow")}</button>
        </form>
      )}
      <table className="list" data-testid="flow-list">
        <thead>
          <tr><th>{t("name")}</th><th>{t("version")}</th><th>{t("published")}</th><th>{t("draft")}</th><th>{t("nav_changes")}</th></tr>
        </thead>
        <tbody>
          {data?.items.map((f) => (
            <tr key={f.name}>
              <td><a href={`#/flows/${f.name}`}>{f.name}</a></td>
              <td>{f.version ?? "—"}</td>
              <td>{when(f.published_at, lang())}</td>
              <td>{f.draft_revision ? `r${f.draft_revision} · ${f.draft_by}` : "—"}</td>
              <td>{f.pending_changes || ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
