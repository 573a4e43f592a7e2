// The shell: sign-in, the top bar (user, role, language), navigation filtered by the role's
// permissions, and hash routes to the pages. Pages ask the API, which decides and audits.
import { useCallback, useEffect, useState } from "react";
import { api, ApiError, type Me, type Meta } from "./api";
import { setZone, zoneName } from "./format";
import { lang, setLang, t } from "./i18n";
import { Login } from "./pages/Login";
import { Dashboard } from "./pages/Dashboard";
import { FlowList } from "./pages/FlowList";
import { Designer } from "./pages/Designer";
import { Prompts } from "./pages/Prompts";
import { Changes } from "./pages/Changes";
import { Users } from "./pages/Users";
import { Dnc } from "./pages/Dnc";
import { Consents } from "./pages/Consents";
import { Recordings } from "./pages/Recordings";
import { Rules } from "./pages/Rules";
import { Qa } from "./pages/Qa";
import { Agent } from "./pages/Agent";
import { Floor } from "./pages/Floor";
import { Campaigns } from "./pages/Campaigns";

interface NavItem {
  route: string;
  label: string;
  permission: string;
}

const NAV: NavItem[] = [
  { route: "dashboard", label: "nav_dashboard", permission: "dashboard.view" },
  { route: "flows", label: "nav_flows", permission: "flows.read" },
  { route: "prompts", label: "nav_prompts", permission: "flows.read" },
  { route: "changes", label: "nav_changes", permission: "changes.read" },
  { route: "dnc", label: "nav_dnc", permission: "dnc.check" },
  { route: "consents", label: "nav_consents", permission: "consent.read" },
  { route: "recordings", label: "nav_recordings", permission: "recordings.search" },
  { route: "campaigns", label: "nav_campaigns", permission: "campaigns.read" },
  { route: "qa", label: "nav_qa", permission: "qa.read" },
  { route: "rules", label: "nav_rules", permission: "rules.read" },
  { route: "users", label: "nav_users", permission: "users.read" },
  { route: "agent", label: "nav_agent", permission: "agents.desk" },
  { route: "floor", label: "nav_floor", permission: "tickets.read" },
];

function route(): string[] {
  const hash = window.location.hash.replace(/^#\/?/, "");
  return hash ? hash.split("/").map(decodeURIComponent) : ["dashboard"];
}

export function App() {
  const [meta, setMeta] = useState<Meta | null>(null);
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [path, setPath] = useState<string[]>(route());
  const [, setLangTick] = useState(0);

  useEffect(() => {
    api<Meta>("GET", "/meta").then((m) => {
      setMeta(m);
      setZone(m.timezone);
    });
    api<Me>("GET", "/auth/me")
      .then(setMe)
      .catch(() => setMe(null));
    const onHash = () => setPath(route());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api("POST", "/auth/logout");
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
    setMe(null);
  }, []);

  const toggleLang = () => {
    setLang(lang() === "en" ? "zh-CN" : "en");
    setLangTick((n) => n + 1);
  };

  if (me === undefined || meta === null) return <div className="loading">{t("loading")}</div>;
  if (me === null)
    return <Login meta={meta} onSignedIn={setMe} onToggleLang={toggleLang} />;

  const may = (p: string) => me.permissions.includes(p);
  const [page, ...rest] = path;
  let body;
  switch (page) {
    case "flows":
      body = rest[0] ? <Designer name={rest[0]} me={me} /> : <FlowList me={me} />;
      break;
    case "prompts":
      body = <Prompts me={me} />;
      break;
    case "changes":
      body = <Changes me={me} />;
      break;
    case "users":
      body = <Users me={me} />;
      break;
    case "dnc":
      body = <Dnc me={me} />;
      break;
    case "consents":
      body = <Consents me={me} />;
      break;
    case "recordings":
      body = <Recordings me={me} />;
      break;
    case "rules":
      body = <Rules me={me} />;
      break;
    case "campaigns":
      body = <Campaigns me={me} id={rest[0]} key={rest[0] ?? ""} />;
      break;
    case "qa":
      body = <Qa me={me} />;
      break;
    case "agent":
      body = <Agent me={me} />;
      break;
    case "floor":
      body = <Floor me={me} />;
      break;
    default:
      body = <Dashboard />;
  }
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">{t("app_title")} · {meta.institution}</span>
        <span className="spacer" />
        <span className="who" data-testid="who">
          {me.username} · {t("role_" + me.role)}
        </span>
        <button className="link" onClick={toggleLang}>{t("language")}</button>
        <button className="link" onClick={signOut}>{t("sign_out")}</button>
      </header>
      <nav className="sidenav">
        {NAV.filter((n) => may(n.permission)).map((n) => (
          <a key={n.route} href={"#/" + n.route} className={page === n.route ? "active" : ""}>
            {t(n.label)}
          </a>
        ))}
        <div className="zone">{t("times_in")}{zoneName()}</div>
      </nav>
      <main className="content">{body}</main>
    </div>
  );
}
