import { useState } from "react";
import { api, type Me, type Page } from "../api";
import { when } from "../format";
import { lang, t } from "../i18n";
import { errorText, Refused, useApi } from "./common";

interface UserOut { id: string; username: string; display_name: string; role: string; os_user: string | null; disabled: boolean; locked_until: string | null; created_at: string }
const FALLBACK_ROLES = ["admin", "designer", "compliance_officer", "supervisor", "agent", "auditor", "campaign_manager"];
interface RoleRights { role: string; permissions: string[] }

export function Users(props: { me: Me }) {
  const { data, error, reload } = useApi<Page<UserOut>>("/users?limit=500");
  const { data: rights } = useApi<RoleRights[]>("/roles");  // the one permission table's roles
  const ROLES = rights ? rights.map((r) => r.role) : FALLBACK_ROLES;
  const [form, setForm] = useState({ username: "", role: "agent", password: "" });
  const [msg, setMsg] = useState("");
  const manage = props.me.permissions.includes("users.manage");
  const patch = async (u: string, body: object) => {
    try { await api("PATCH", `/users/${u}`, body); reload(); } catch (e) { setMsg(errorText(e)); }
  };
  return (
    <div>
      <h2>{t("nav_users")}</h2>
      <Refused error={error} />
      {msg && <div className="banner error">{msg}</div>}
      <table className="list">
        <thead><tr><th>{t("username")}</th><th>{t("role")}</th><th>{t("status")}</th><th /></tr></thead>
        <tbody>
          {data?.items.map((u) => (
            <tr key={u.id}>
              <td>{u.username}{u.os_user ? ` (${u.os_user})` : ""}</td>
              <td>
                <select disabled={!manage} value={u.role} onChange={(e) => patch(u.username, { role: e.target.value })}>
                  {ROLES.map((r) => <option key={r} value={r}>{t("role_" + r)}</option>)}
                </select>
              </td>
              <td>{u.disabled ? t("disabled") : ""}{u.locked_until ? ` 🔒 ${when(u.locked_until, lang())}` : ""}</td>
              <td>
                {manage && <button className="tiny" onClick={() => patch(u.username, { disabled: !u.disabled })}>{u.disabled ? t("enable") : t("disable")}</button>}
                {manage && u.locked_until && <button className="tiny" onClick={() => patch(u.username, { unlock: true })}>{t("unlock")}</button>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {manage && (
        <form className="row" onSubmit={async (e) => {
          e.preventDefault();
          try { await api("POST", "/users", form); setForm({ username: "", role: "agent", password: "" }); reload(); } catch (err) { setMsg(errorText(err)); }
        }}>
          <input placeholder={t("username")} value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} />
          <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })}>
            {ROLES.map((r) => <option key={r} value={r}>{t("role_" + r)}</option>)}
          </select>
          <input type="password" placeholder={t("password")} value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} />
          <button type="submit">{t("add_user")}</button>
        </form>
      )}
    </div>
  );
}
