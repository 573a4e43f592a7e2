// The flow designer: the flow as a graph (@xyflow/react), a palette and property forms made from
// the flow JSON Schema, live checks by the server's own validator with the offending path drawn
// in red, save (optimistic concurrency), diff, publish (maybe four-eyes), versions and rollback,
// and a simulated call through the real orchestrator with the prompts played in the browser.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  applyNodeChanges,
  type Connection,
  type Edge,
  type Node,
  type NodeChange,
  type NodeProps,
} from "@xyflow/react";
import { api, ApiError, type Me, type Page } from "../api";
import { when } from "../format";
import { joined, lang, say, t, tOr } from "../i18n";
import { publisher } from "./common";
import { allEdges, autoLayout, edgesOf, setEdge, type FlowJson } from "../graph";
import {
  ObjectForm,
  SINGLE_EDGE,
  defaultObject,
  resolve,
  type FormContext,
  type Json,
  type Schema,
} from "../schemaForm";

interface Issue {
  code: string;
  message: string;
  params?: Record<string, unknown>;
  node: string | null;
  path: Array<{ node: string; edge: string | null }>;
}
interface VersionOut {
  version: number;
  source: string;
  author: string;
  approved_by: string | null;
  published_at: string;
  document: FlowJson;
  layout: Record<string, { x: number; y: number }>;
}
interface DraftOut {
  revision: number;
  base_version: number;
  updated_by: string;
  updated_at: string;
  document: FlowJson;
  layout: Record<string, { x: number; y: number }>;
  issues: Issue[];
}
interface FlowDocument {
  name: string;
  published: VersionOut | null;
  draft: DraftOut | null;
  pending: string[];
}
// A transcript line; an event the engine notes carries a message code (what, or its detail)
interface SimLine {
  t: number; who: string; what: string; detail: string; audio: boolean;
  code?: string | null; detail_code?: string | null; params?: Record<string, unknown>;
}
interface Simulation { simulation_id: string; transcript: SimLine[]; evidence: string[]; hangup_by: string | null }
type Turn = { kind: "say" | "dtmf" | "silent" | "hangup"; value: string };

const NEW_FLOW = (name: string): FlowJson => ({
  flow: name,
  description: "",
  direction: "outbound",
  purpose: "marketing",
  start: "disclosure",
  nodes: {
    disclosure: { type: "disclosure", next: "goodbye" },
    goodbye: { type: "hangup" },
  },
});

type IvrNodeData = {
  label: string;
  type: string;
  summary: string;
  slots: string[];
  bad: boolean;
  onPath: boolean;
  selected: boolean;
};

function IvrNode(props: NodeProps<Node<IvrNodeData>>) {
  const d = props.data;
  const cls = ["ivr-node", `t-${d.type}`, d.bad ? "bad" : "", d.onPath ? "onpath" : "", d.selected ? "sel" : ""];
  return (
    <div className={cls.join(" ")} data-testid={`node-${d.label}`}>
      <Handle type="target" position={Position.Top} id="in" />
      <div className="ivr-node-title">{d.label}</div>
      <div className="ivr-node-type">{tOr(`nodetype_${d.type}`, d.type)}</div>
      {d.summary && <div className="ivr-node-summary">{d.summary}</div>}
      <div className="slots">
        {d.slots.map((s, i) => (
          <div key={s} className="slot" style={{ left: `${((i + 1) * 100) / (d.slots.length + 1)}%` }}>
            <span>{s}</span>
            <Handle type="source" position={Position.Bottom} id={s} />
          </div>
        ))}
      </div>
    </div>
  );
}

const NODE_TYPES = { ivr: IvrNode };

export function Designer(props: { name: string; me: Me }) {
  const { name, me } = props;
  const may = (p: string) => me.permissions.includes(p);
  const [schema, setSchema] = useState<Schema | null>(null);
  const [prompts, setPrompts] = useState<Record<string, { text?: string; marketing?: boolean }>>({});
  const [flow, setFlow] = useState<FlowJson | null>(null);
  const [layout, setLayout] = useState<Record<string, { x: number; y: number }>>({});
  const [revision, setRevision] = useState(0);
  const [doc, setDoc] = useState<FlowDocument | null>(null);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [banner, setBanner] = useState<{ kind: string; text: string } | null>(null);
  const [conflict, setConflict] = useState<{ revision: number; updated_by: string } | null>(null);
  const [tab, setTab] = useState<"props" | "sim" | "diff" | "versions">("props");
  const [error, setError] = useState<string>("");

  const defs = useMemo(() => (schema ? ((schema as { $defs?: Record<string, Schema> }).$defs || {}) : {}), [schema]);
  const nodeTypes = useMemo(() => {
    const nodesSchema = schema?.properties?.nodes as { patternProperties?: Record<string, { discriminator?: { mapping: Record<string, string> } }> } | undefined;
    const pattern = nodesSchema?.patternProperties ? Object.values(nodesSchema.patternProperties)[0] : undefined;
    return pattern?.discriminator?.mapping || {};
  }, [schema]);

  const load = useCallback(async () => {
    try {
      const [s, p] = await Promise.all([
        api<Schema>("GET", "/flow-schema"),
        api<{ published: { document: { prompts: Record<string, { text?: string }> } } | null }>("GET", "/prompts"),
      ]);
      setSchema(s);
      setPrompts(p.published?.document.prompts || {});
      let d: FlowDocument | null = null;
      try {
        d = await api<FlowDocument>("GET", `/flows/${encodeURIComponent(name)}`);
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 404) throw e;
      }
      setDoc(d);
      const source = d?.draft ?? d?.published ?? null;
      const f = source ? source.document : NEW_FLOW(name);
      setFlow(f);
      setLayout(source && Object.keys(source.layout || {}).length ? source.layout : autoLayout(f));
      setRevision(d?.draft?.revision ?? 0);
      setConflict(null);
    } catch (e) {
      setError(e instanceof ApiError ? `${e.status}: ${e.message}` : String(e));
    }
  }, [name]);

  useEffect(() => {
    load();
  }, [load]);

  // live validation by the server's own validator
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => {
    if (!flow) return;
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(async () => {
      try {
        const r = await api<{ ok: boolean; issues: Issue[] }>("POST", "/flows/check", { flow });
        setIssues(r.issues);
      } catch (e) {
        if (e instanceof ApiError) setIssues([{ code: "request", message: e.message, node: null, path: [] }]);
      }
    }, 300);
  }, [flow]);

  const ctx: FormContext = useMemo(
    () => ({
      defs,
      nodeIds: flow ? Object.keys(flow.nodes) : [],
      promptIds: [...new Set([...Object.keys(prompts), ...Object.keys((flow?.prompts as object) || {})])].sort(),
    }),
    [defs, flow, prompts],
  );

  const onPathNodes = useMemo(() => new Set(issues.flatMap((i) => i.path.map((s) => s.node))), [issues]);
  const onPathEdges = useMemo(
    () => new Set(issues.flatMap((i) => i.path.filter((s) => s.edge).map((s) => `${s.node}:${s.edge}`))),
    [issues],
  );
  const badNodes = useMemo(() => new Set(issues.map((i) => i.node).filter(Boolean) as string[]), [issues]);

  const builtNodes: Node<IvrNodeData>[] = useMemo(() => {
    if (!flow) return [];
    return Object.entries(flow.nodes).map(([id, node]) => {
      const type = String(node.type);
      const def = resolve({ $ref: nodeTypes[type] || "" }, defs);
      const single = Object.keys(def.properties || {}).filter(SINGLE_EDGE);
      const multi = edgesOf(node).map((e) => e.label).filter((l) => !single.includes(l));
      const promptId = typeof node.prompt === "string" ? node.prompt : "";
      const text = prompts[promptId]?.text || "";
      return {
        id,
        type: "ivr",
        position: layout[id] || { x: 0, y: 0 },
        data: {
          label: id,
          type,
          summary: promptId ? `${promptId}: ${text.slice(0, 22)}${text.length > 22 ? "…" : ""}` : "",
          slots: [...single, ...multi],
          bad: badNodes.has(id),
          onPath: onPathNodes.has(id),
          selected: selected === id,
        },
      };
    });
  }, [flow, layout, defs, nodeTypes, prompts, badNodes, onPathNodes, selected]);

  // React Flow measures nodes through onNodesChange: keep what it measured across rebuilds
  const [rfNodes, setRfNodes] = useState<Node<IvrNodeData>[]>([]);
  useEffect(() => {
    setRfNodes((prev) => {
      const old = new Map(prev.map((n) => [n.id, n]));
      return builtNodes.map((n) => {
        const o = old.get(n.id);
        return o ? { ...n, measured: o.measured, width: o.width, height: o.height } : n;
      });
    });
  }, [builtNodes]);

  const rfEdges: Edge[] = useMemo(() => {
    if (!flow) return [];
    return allEdges(flow)
      .filter((e) => e.target && flow.nodes[e.target])
      .map((e) => {
        const hot = onPathEdges.has(`${e.source}:${e.label}`);
        return {
          id: `${e.source}:${e.label}`,
          source: e.source,
          target: e.target,
          sourceHandle: e.label,
          targetHandle: "in",
          label: e.label,
          animated: hot,
          className: hot ? "edge-hot" : "",
          style: hot ? { stroke: "#d4380d", strokeWidth: 3 } : undefined,
          markerEnd: { type: MarkerType.ArrowClosed, color: hot ? "#d4380d" : "#888" },
        };
      });
  }, [flow, onPathEdges]);

  const updateNode = (id: string, value: { [k: string]: Json }) =>
    setFlow((f) => (f ? { ...f, nodes: { ...f.nodes, [id]: value } } : f));

  const onConnect = (c: Connection) => {
    if (!flow || !c.source || !c.target || !c.sourceHandle) return;
    updateNode(c.source, setEdge(flow.nodes[c.source], c.sourceHandle, c.target));
  };

  const onNodesChange = (changes: NodeChange<Node<IvrNodeData>>[]) => {
    setRfNodes((ns) => applyNodeChanges(changes, ns));
  };
  const onNodeDragStop = (_: unknown, node: Node) =>
    setLayout((l) => ({ ...l, [node.id]: { x: Math.round(node.position.x), y: Math.round(node.position.y) } }));

  const addNode = (type: string) => {
    if (!flow) return;
    let i = 1;
    while (flow.nodes[`${type}_${i}`]) i++;
    const id = `${type}_${i}`;
    const def = resolve({ $ref: nodeTypes[type] }, defs);
    const node = { ...defaultObject(def, defs), type };
    // new nodes fill a row of three under the lowest row, so edges between them stay readable
    const maxY = Math.max(0, ...Object.values(layout).map((p) => p.y));
    const lowest = Object.values(layout).filter((p) => p.y === maxY).length;
    const place = lowest > 0 && lowest < 3 ? { x: 40 + 270 * lowest, y: maxY } : { x: 40, y: maxY + 140 };
    setFlow({ ...flow, nodes: { ...flow.nodes, [id]: node } });
    setLayout({ ...layout, [id]: place });
    setSelected(id);
    setTab("props");
  };

  const renameNode = (from: string, to: string) => {
    if (!flow || !to || to === from || flow.nodes[to]) return;
    const nodes: FlowJson["nodes"] = {};
    for (const [id, node] of Object.entries(flow.nodes)) {
      let n = node;
      for (const e of edgesOf(node)) if (e.target === from) n = setEdge(n, e.label, to);
      nodes[id === from ? to : id] = n;
    }
    const { [from]: pos, ...rest } = layout;
    setFlow({ ...flow, start: flow.start === from ? to : flow.start, nodes });
    setLayout({ ...rest, [to]: pos });
    setSelected(to);
  };

  const deleteNode = (id: string) => {
    if (!flow) return;
    const nodes: FlowJson["nodes"] = {};
    for (const [nid, node] of Object.entries(flow.nodes)) {
      if (nid === id) continue;
      let n = node;
      for (const e of edgesOf(node)) if (e.target === id) n = setEdge(n, e.label, "");
      nodes[nid] = n;
    }
    setFlow({ ...flow, nodes });
    setSelected(null);
  };

  const save = async (base = revision) => {
    if (!flow) return;
    setBanner(null);
    try {
      const d = await api<DraftOut>("PUT", `/flows/${encodeURIComponent(name)}/draft`, { flow, layout, base_revision: base });
      setRevision(d.revision);
      setIssues(d.issues);
      setConflict(null);
      setBanner({ kind: "ok", text: `${t("saved")} · ${t("revision")} ${d.revision}` });
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        const cur = e.problem.current as { revision: number; updated_by: string } | undefined;
        setConflict(cur ? { revision: cur.revision, updated_by: cur.updated_by } : { revision: 0, updated_by: "?" });
        setBanner({ kind: "error", text: `${t("conflict")}: ${e.message}` });
      } else if (e instanceof ApiError) {
        setBanner({ kind: "error", text: `${e.status}: ${e.message}` });
        if (e.problem.errors) setIssues(e.problem.errors as unknown as Issue[]);
      } else throw e;
    }
  };

  const publish = async () => {
    setBanner(null);
    try {
      const r = await api<{ status: string; version?: { version: number }; change?: { id: string } }>(
        "POST", `/flows/${encodeURIComponent(name)}/publish`, { base_revision: revision },
      );
      if (r.status === "pending") setBanner({ kind: "info", text: `${t("pending_approval")} (${r.change?.id})` });
      else setBanner({ kind: "ok", text: `${t("published_ok")}: v${r.version?.version}` });
      await load();
    } catch (e) {
      if (e instanceof ApiError) {
        setBanner({ kind: "error", text: `${e.status}: ${e.message}` });
        if (e.problem.errors) setIssues(e.problem.errors as unknown as Issue[]);
      } else throw e;
    }
  };

  if (error) return <div className="error">{error}</div>;
  if (!flow || !schema) return <div>{t("loading")}</div>;
  const sel = selected && flow.nodes[selected] ? selected : null;
  const selDef = sel ? resolve({ $ref: nodeTypes[String(flow.nodes[sel].type)] }, defs) : null;
  const flowSchema: Schema = {
    properties: {
      description: { type: "string", title: t("description") },
      direction: { type: "string", enum: ["inbound", "outbound"], title: t("direction") },
      purpose: { type: "string", title: t("purpose") },
      variables: { type: "object", title: "variables", additionalProperties: { type: "string" } },
    },
    required: ["direction"],
  };
  return (
    <div className="designer">
      <div className="toolbar">
        <h2>{name}</h2>
        <span className="muted">
          {doc?.published ? `${t("published")} v${doc.published.version}` : t("new_flow")} · {t("revision")} {revision || "—"}
        </span>
        <span className={issues.length ? "badge bad" : "badge ok"} data-testid="check-status">
          {issues.length ? `${t("check_failed")} (${issues.length})` : t("check_ok")}
        </span>
        <span className="spacer" />
        {may("flows.edit") && <button data-testid="save-draft" onClick={() => save()}>{t("save_draft")}</button>}
        {may("flows.edit") && (
          <button data-testid="publish" className="primary" disabled={!revision} onClick={publish}>{t("publish")}</button>
        )}
      </div>
      {banner && <div className={`banner ${banner.kind}`} data-testid="banner">{banner.text}</div>}
      {conflict && (
        <div className="banner error">
          {conflict.updated_by} · {t("revision")} {conflict.revision}{" "}
          <button onClick={load}>{t("reload")}</button>{" "}
          <button onClick={() => save(conflict.revision)}>{t("save_draft")} ({t("revision")} {conflict.revision} →)</button>
        </div>
      )}
      <div className="designer-body">
        <aside className="palette">
          <h3>{t("node_palette")}</h3>
          {Object.keys(nodeTypes).map((type) => (
            <button key={type} data-testid={`palette-${type}`} className={`pal t-${type}`} disabled={!may("flows.edit")} onClick={() => addNode(type)}>
              {tOr(`nodetype_${type}`, type)} <small className="ident">{type}</small>
            </button>
          ))}
          <h3>{t("issues")}</h3>
          <ul className="issues" data-testid="issues">
            {issues.map((i, k) => (
              <li key={k} data-testid={`issue-${i.code}`} onClick={() => i.node && setSelected(i.node)}>
                <b>{tOr(`issuename_${i.code}`, i.code)}</b> <small className="ident">{i.code}</small> {i.node && <code>{i.node}</code>}
                <div className="muted" data-testid="issue-text">{say({ code: "issue." + i.code, params: i.params, text: i.message })}</div>
                {i.path.length > 0 && (
                  <div className="path" data-testid="offending-path">
                    {t("offending_path")}: {i.path.map((s) => s.node).join(" → ")}
                  </div>
                )}
              </li>
            ))}
          </ul>
        </aside>
        <div className="canvas" data-testid="canvas">
          <ReactFlow
            nodes={rfNodes}
            edges={rfEdges}
            nodeTypes={NODE_TYPES}
            onNodesChange={onNodesChange}
            onConnect={onConnect}
            onNodeDragStop={onNodeDragStop}
            onNodeClick={(_, n) => { setSelected(n.id); setTab("props"); }}
            onPaneClick={() => setSelected(null)}
            onEdgesDelete={(es) => es.forEach((e) => e.sourceHandle && updateNode(e.source, setEdge(flow.nodes[e.source], e.sourceHandle, "")))}
            fitView
            fitViewOptions={{ maxZoom: 1 }}
            proOptions={{ hideAttribution: true }}
          >
            <Background />
            <Controls />
          </ReactFlow>
        </div>
        <aside className="inspector">
          <div className="tabs">
            <button className={tab === "props" ? "on" : ""} onClick={() => setTab("props")}>{t("properties")}</button>
            {may("flows.simulate") && <button data-testid="tab-sim" className={tab === "sim" ? "on" : ""} onClick={() => setTab("sim")}>{t("simulate")}</button>}
            <button data-testid="tab-diff" className={tab === "diff" ? "on" : ""} onClick={() => setTab("diff")}>{t("diff")}</button>
            <button data-testid="tab-versions" className={tab === "versions" ? "on" : ""} onClick={() => setTab("versions")}>{t("versions")}</button>
          </div>
          {tab === "props" && sel && selDef && (
            <div data-testid="node-form">
              <h3>{sel} <span className="muted">({tOr(`nodetype_${String(flow.nodes[sel].type)}`, String(flow.nodes[sel].type))})</span></h3>
              <label className="field">
                <span>{t("node_id")}</span>
                <input data-testid="node-id" defaultValue={sel} key={sel} onBlur={(e) => renameNode(sel, e.target.value.trim())} />
              </label>
              <ObjectForm schema={selDef} value={flow.nodes[sel]} ctx={ctx} onChange={(v) => updateNode(sel, { ...v, type: flow.nodes[sel].type })} />
              {selDef.description && <p className="muted" data-testid="node-description">{tOr(`nodedesc_${String(flow.nodes[sel].type)}`, selDef.description)}</p>}
              <button className="danger" onClick={() => deleteNode(sel)}>{t("delete_node")}</button>
            </div>
          )}
          {tab === "props" && !sel && (
            <div data-testid="flow-form">
              <h3>{t("flow_properties")}</h3>
              <ObjectForm
                schema={flowSchema}
                value={flow}
                ctx={{ ...ctx, nodeIds: Object.keys(flow.nodes) }}
                onChange={(v) => setFlow({ ...flow, ...v, flow: name, nodes: flow.nodes } as FlowJson)}
              />
              <label className="field">
                <span>{t("start")}</span>
                <select data-testid="flow-start" value={String(flow.start)} onChange={(e) => setFlow({ ...flow, start: e.target.value })}>
                  {Object.keys(flow.nodes).map((n) => <option key={n} value={n}>{n}</option>)}
                </select>
              </label>
            </div>
          )}
          {tab === "sim" && <SimulatePanel name={name} hasDraft={revision > 0} />}
          {tab === "diff" && <DiffPanel name={name} />}
          {tab === "versions" && <VersionsPanel name={name} me={me} onDone={load} />}
        </aside>
      </div>
    </div>
  );
}

function SimulatePanel(props: { name: string; hasDraft: boolean }) {
  const [turns, setTurns] = useState<Turn[]>([]);
  const [words, setWords] = useState("");
  const [keys, setKeys] = useState("");
  const [sim, setSim] = useState<Simulation | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const run = async () => {
    setBusy(true);
    setError("");
    try {
      setSim(await api<Simulation>("POST", `/flows/${encodeURIComponent(props.name)}/simulate`, {
        source: props.hasDraft ? "draft" : "published",
        turns,
      }));
    } catch (e) {
      setError(e instanceof ApiError ? `${e.status}: ${e.message}` : String(e));
    } finally {
      setBusy(false);
    }
  };
  const play = async (line: number) => {
    if (!sim) return;
    const blob = await api<Blob>("GET", `/simulations/${sim.simulation_id}/audio/${line}`);
    const audio = new Audio(URL.createObjectURL(blob));
    await audio.play();
  };
  return (
    <div className="sim" data-testid="sim-panel">
      <div className="row">
        <input data-testid="sim-say" placeholder={t("caller_says")} value={words} onChange={(e) => setWords(e.target.value)} />
        <button onClick={() => { if (words) { setTurns([...turns, { kind: "say", value: words }]); setWords(""); } }}>{t("add")}</button>
      </div>
      <div className="row">
        <input data-testid="sim-keys" placeholder={t("press_keys")} value={keys} onChange={(e) => setKeys(e.target.value.replace(/[^0-9*#]/g, ""))} />
        <button data-testid="sim-add-keys" onClick={() => { if (keys) { setTurns([...turns, { kind: "dtmf", value: keys }]); setKeys(""); } }}>{t("add")}</button>
      </div>
      <div className="row">
        <button onClick={() => setTurns([...turns, { kind: "silent", value: "" }])}>{t("silence")}</button>
        <button onClick={() => setTurns([...turns, { kind: "hangup", value: "" }])}>{t("hang_up")}</button>
        <button onClick={() => setTurns([])}>✕</button>
      </div>
      <ol className="turns">{turns.map((tn, i) => <li key={i}>{t("turn_" + tn.kind)} {tn.value}</li>)}</ol>
      <button data-testid="sim-run" className="primary" disabled={busy} onClick={run}>{busy ? t("loading") : t("run_call")}</button>
      {error && <div className="error">{error}</div>}
      {sim && (
        <div data-testid="sim-transcript">
          <h4>{t("transcript")}</h4>
          <ul className="transcript">
            {sim.transcript.map((l, i) => (
              <li key={i} className={`who-${l.who}`}>
                <span className="t">{l.t.toFixed(2)}{t("seconds")}</span> <b>{tOr("who_" + l.who, l.who)}</b>{" "}
                {l.code ? say({ code: l.code, params: l.params, text: l.what }) : l.what}
                {l.detail && <span className="muted"> ({l.detail_code ? say({ code: l.detail_code, params: l.params, text: l.detail }) : l.detail})</span>}
                {l.audio && <button className="tiny" onClick={() => play(i)}>▶ {t("play")}</button>}
              </li>
            ))}
          </ul>
          <div className="muted" data-testid="sim-evidence">{t("sim_evidence")}: {joined(sim.evidence.map((k) => tOr("ev_" + k, k)))}</div>
        </div>
      )}
    </div>
  );
}

function DiffPanel(props: { name: string }) {
  const [diff, setDiff] = useState<string | null>(null);
  useEffect(() => {
    api<{ diff: string }>("GET", `/flows/${encodeURIComponent(props.name)}/diff`).then((d) => setDiff(d.diff)).catch(() => setDiff(""));
  }, [props.name]);
  if (diff === null) return <div>{t("loading")}</div>;
  return (
    <pre className="diff" data-testid="diff">
      {diff
        ? diff.split("\n").map((line, i) => (
            <div key={i} className={line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : ""}>{line}</div>
          ))
        : t("no_items")}
    </pre>
  );
}

function VersionsPanel(props: { name: string; me: Me; onDone: () => void }) {
  const [versions, setVersions] = useState<VersionOut[]>([]);
  const [msg, setMsg] = useState("");
  useEffect(() => {
    api<Page<VersionOut>>("GET", `/flows/${encodeURIComponent(props.name)}/versions`).then((p) => setVersions(p.items)).catch(() => setVersions([]));
  }, [props.name]);
  const rollback = async (version: number) => {
    try {
      const r = await api<{ status: string; version?: { version: number } }>("POST", `/flows/${encodeURIComponent(props.name)}/rollback`, { version });
      setMsg(r.status === "pending" ? t("pending_approval") : `${t("published_ok")}: v${r.version?.version}`);
      props.onDone();
    } catch (e) {
      setMsg(e instanceof ApiError ? e.message : String(e));
    }
  };
  return (
    <div data-testid="versions">
      {msg && <div className="banner info">{msg}</div>}
      <table>
        <tbody>
          {versions.map((v) => (
            <tr key={v.version}>
              <td>v{v.version}</td>
              <td>{tOr("vsrc_" + v.source, v.source)}</td>
              <td>{publisher(v)}{v.approved_by ? ` / ${v.approved_by}` : ""}</td>
              <td>{when(v.published_at, lang())}</td>
              <td>
                {props.me.permissions.includes("flows.rollback") && versions[0]?.version !== v.version && (
                  <button className="tiny" onClick={() => rollback(v.version)}>{t("rollback")}</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
