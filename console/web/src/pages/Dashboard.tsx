// The dashboard: calls now and today, gate denials by reason, consents, DNC additions, queues.
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { t } from "../i18n";
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
          {props.bars.map(([key, color]) => <Bar key={key} dataKey={key} fill={color} isAnimationActive={false} />)}
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}

export function Dashboard() {
  const { data, error } = useApi<DashboardData>("/dashboard");
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
            <Chart title={t("gate_denials")} data={data.gate_denials} x="reason" bars={[["count", "#d4380d"]]} />
            <Chart title={t("consents_granted")} data={data.consents_by_day} x="day" bars={[["granted", "#389e0d"], ["refused", "#d4380d"], ["revoked", "#faad14"]]} />
            <Chart title={t("dnc_additions")} data={data.dnc_by_day} x="day" bars={[["added", "#722ed1"], ["removed", "#13c2c2"]]} />
            <Chart title={t("queue_waits")} data={data.queues} x="what" bars={[["count", "#fa8c16"]]} />
          </div>
        </>
      )}
    </div>
  );
}
