import { useState } from "react";
import { api, ApiError, type Me, type Meta } from "../api";
import { t } from "../i18n";

export function Login(props: { meta: Meta; onSignedIn: (me: Me) => void; onToggleLang: () => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError("");
    try {
      const signed = await api<{ user: Me }>("POST", "/auth/login", { username, password });
      props.onSignedIn(signed.user);
    } catch (err) {
      if (err instanceof ApiError) setError(t("sign_in_failed"));
      else throw err;
    }
  };
  return (
    <div className="login">
      <form onSubmit={submit} className="card">
        <h1>{t("app_title")}</h1>
        <p className="muted">{props.meta.institution}</p>
        <label>
          {t("username")}
          <input name="username" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </label>
        <label>
          {t("password")}
          <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && <div className="error" role="alert">{error}</div>}
        <button type="submit" className="primary">{t("sign_in")}</button>
        <button type="button" className="link" onClick={props.onToggleLang}>{t("language")}</button>
      </form>
    </div>
  );
}
