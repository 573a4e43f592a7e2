// A flow document as a graph: its edges (labelled as flows.model.edges labels them) and an
// automatic layout for flows that have none yet.
import type { Json } from "./schemaForm";
import { MAP_EDGE, SINGLE_EDGE } from "./schemaForm";

export type FlowJson = { [k: string]: Json } & { nodes: { [id: string]: { [k: string]: Json } } };
export interface FlowEdge { source: string; label: string; target: string }

export function edgesOf(node: { [k: string]: Json }): Array<{ label: string; target: string }> {
  const out: Array<{ label: string; target: string }> = [];
  for (const [name, value] of Object.entries(node)) {
    if (SINGLE_EDGE(name) && typeof value === "string") out.push({ label: name, target: value });
    else if (MAP_EDGE(name) && value && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) if (typeof v === "string") out.push({ label: `${name}.${k}`, target: v });
    } else if (name === "cases" && Array.isArray(value)) {
      value.forEach((c, i) => {
        const next = c && typeof c === "object" && !Array.isArray(c) ? c.next : undefined;
        if (typeof next === "string") out.push({ label: `cases[${i}]`, target: next });
      });
    }
  }
  return out;
}

export function allEdges(flow: FlowJson): FlowEdge[] {
  return Object.entries(flow.nodes || {}).flatMap(([id, node]) =>
    edgesOf(node).map((e) => ({ source: id, ...e })),
  );
}

/** Set the edge ``label`` of ``node`` to ``target`` ("" clears a single edge). */
export function setEdge(node: { [k: string]: Json }, label: string, target: string): { [k: string]: Json } {
  const next = structuredClone(node);
  const map = label.match(/^(options|intents)\.(.+)$/);
  const cases = label.match(/^cases\[(\d+)\]$/);
  if (map) {
    const m = { ...((next[map[1]] as { [k: string]: Json }) || {}) };
    if (target) m[map[2]] = target;
    else delete m[map[2]];
    next[map[1]] = m;
  } else if (cases) {
    const list = ((next.cases as Json[]) || []).slice();
    const i = Number(cases[1]);
    list[i] = { ...(list[i] as { [k: string]: Json }), next: target };
    next.cases = list;
  } else {
    next[label] = target;
  }
  return next;
}

export function autoLayout(flow: FlowJson): Record<string, { x: number; y: number }> {
  const depth: Record<string, number> = {};
  const start = typeof flow.start === "string" ? flow.start : Object.keys(flow.nodes)[0];
  const queue = start && flow.nodes[start] ? [start] : [];
  if (start) depth[start] = 0;
  while (queue.length) {
    const id = queue.shift()!;
    for (const e of edgesOf(flow.nodes[id])) {
      if (flow.nodes[e.target] && depth[e.target] === undefined) {
        depth[e.target] = depth[id] + 1;
        queue.push(e.target);
      }
    }
  }
  let extra = Math.max(0, ...Object.values(depth)) + 1;
  for (const id of Object.keys(flow.nodes)) if (depth[id] === undefined) depth[id] = extra++;
  const perLevel: Record<number, number> = {};
  const out: Record<string, { x: number; y: number }> = {};
  for (const id of Object.keys(flow.nodes)) {
    const d = depth[id];
    const i = (perLevel[d] = (perLevel[d] ?? -1) + 1);
    out[id] = { x: 40 + i * 270, y: 30 + d * 140 };
  }
  return out;
}
