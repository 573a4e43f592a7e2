// The dashboard: calls now and today, gate denials by reason, consents, DNC additions, queues.
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { say, t, tOr } from "../i18n";
import { Refused, useApi } from "./common";

interface DashboardData {
  calls_now: number;
  calls_today: number;
  calls_by_hour: Array<{ hour: string; calls: number }>;
  gate_denials: Array<{ reason: string; count: number }>;
  consents_by_day: Array<{ day: string; granted: number; refused: number; revoked: number }>;
  dnc_by_day: Array<{ day: string; added: number; removed: number }>;
  queues: Array<{ what: string; count: number }>;
}

// The figures are read again while the page is open (calls now, today's counts).
const REFRESH_MS = 10_000;

// A bar chart; each bar's legend and tooltip name is the page's word for its series (bar_*).
function Chart(props: { title: string; data: object[]; x: string; bars: Array<[string, string]> }) {
  return (
    <div className="chart card" data-testid={`chart-${props.x}`}>
      <h3>{props.title}</h3>
      <ResponsiveContainer width="100%" height={200}>
        <BarChart data={props.data}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey={props.x} />
          <YAxis allowDecimals={false} />
          <Tooltip />
          {props.bars.length > 1 && <Legend />}
          {props.bars.map(([key, color]) => <Bar key={key} dataKey={key} name={t("bar_" + key)} fill={color} isAnimationActive={false} />)}
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}

interface QueueFigures { answered: number; abandoned: number; timed_out: number; wait_mean_s: number | null; wait_p90_s: number | null }
interface FloorData {
  desks: Record<string, number>;
  open_tickets: Record<string, number>;
  callbacks_waiting: number;
  callbacks_overdue: number;
  dead_letters: number;
  metrics: {
    calls_active: number; gate_decisions: Record<string, number>; bot_latency_p95_s: number | null;
    asr_latency_p95_s: number | null; queues: Record<string, QueueFigures>; qa_hits: number;
    evidence_appends: number; evidence_failures: number; errors: Record<string, number>;
  };
}

// The floor's figures: the same Prometheus metrics Grafana shows (ops/grafana/ivr.json).
function FloorFigures() {
  const { data } = useApi<FloorData>("/floor", REFRESH_MS);
  if (!data) return null;
  const m = data.metrics;
  const stat = (label: string, value: string | number, id?: string) => (
    <div className="stat card" data-testid={id}><span>{label}</span><b>{value}</b></div>
  );
  const secs = (v: number | null) => (v === null ? "–" : `${v.toFixed(2)} ${t("seconds")}`);
  return (
    <>
      <h3>{t("floor_figures")}</h3>
      <div className="stats" data-testid="floor-figures">
        {stat(t("fig_calls_active"), m.calls_active, "calls-active")}
        {stat(t("fig_bot_p95"), secs(m.bot_latency_p95_s))}
        {stat(t("fig_asr_p95"), secs(m.asr_latency_p95_s))}
        {stat(t("fig_qa_hits"), m.qa_hits)}
        {stat(t("fig_evidence_appends"), m.evidence_appends)}
        {stat(t("fig_evidence_failures"), m.evidence_failures)}
        {stat(t("fig_errors"), Object.values(m.errors).reduce((a, b) => a + b, 0))}
        {stat(t("callbacks"), `${data.callbacks_waiting} / ${data.callbacks_overdue} ${t("overdue")}`)}
        {stat(t("dead_letters"), data.dead_letters)}
        {Object.entries(data.desks).map(([k, v]) => stat(t("status_" + k), v))}
        {Object.entries(m.queues).map(([q, f]) => stat(`${tOr("team_" + q, q)}: ${t("fig_wait_abandoned")}`, `${secs(f.wait_p90_s)} / ${f.abandoned}`))}
        {Object.entries(m.gate_decisions).map(([r, v]) => stat(`${t("fig_gate")}: ${r === "none" ? t("gate_allowed") : say({ code: "gate." + r, text: r })}`, v))}
      </div>
    </>
  );
}

export function Dashboard() {
  const { data, error } = useApi<DashboardData>("/dashboard", REFRESH_MS);
  return (
    <div>
      <h2>{t("nav_dashboard")}</h2>
      <Refused error={error} />
      {data && (
        <>
          <div className="stats">
            <div className="stat card" data-testid="calls-now"><span>{t("calls_now")}</span><b>{data.calls_now}</b></div>
            <div className="stat card"><span>{t("calls_today")}</span><b>{data.calls_today}</b></div>
          </div>
          <div className="charts">
            <Chart title={t("calls_today")} data={data.calls_by_hour} x="hour" bars={[["calls", "#1677ff"]]} />
            <Chart title={t("gate_denials")} data={data.gate_denials.map((d) => ({ ...d, reason: say({ code: "gate." + d.reason, text: d.reason }) }))} x="reason" bars={[["count", "#d4380d"]]} />
            <Chart title={t("consents_granted")} data={data.consents_by_day} x="day" bars={[["granted", "#389e0d"], ["refused", "#d4380d"], ["revoked", "#faad14"]]} />
            <Chart title={t("dnc_additions")} data={data.dnc_by_day} x="day" bars={[["added", "#722ed1"], ["removed", "#13c2c2"]]} />
            <Chart title={t("queue_waits")} data={data.queues.map((q) => ({ ...q, what: t("queue_" + q.what) }))} x="what" bars={[["count", "#fa8c16"]]} />
          </div>
        </>
      )}
      <FloorFigures />
    </div>
  );
}
