// Property forms generated from the flow JSON Schema (/api/v1/flow-schema): one input per
// property of the node's schema, by type; edge fields pick a node id, prompt fields a prompt id.
import type { ReactNode } from "react";
import { t, tOr } from "./i18n";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Schema = {
  type?: string;
  const?: string;
  enum?: string[];
  title?: string;
  description?: string;
  default?: Json;
  anyOf?: Schema[];
  items?: Schema;
  $ref?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema | boolean;
  patternProperties?: Record<string, Schema>;
  minimum?: number;
  maximum?: number;
};

export interface FormContext {
  defs: Record<string, Schema>;
  nodeIds: string[];
  promptIds: string[];
}

export const SINGLE_EDGE = (name: string) =>
  ["next", "default", "open", "closed"].includes(name) || name.startsWith("on_");
export const MAP_EDGE = (name: string) => name === "options" || name === "intents";
export const PROMPT_FIELD = (name: string) => ["prompt", "invalid_prompt", "no_input_prompt"].includes(name);

export function resolve(schema: Schema, defs: Record<string, Schema>): Schema {
  if (schema.$ref) return resolve(defs[schema.$ref.replace("#/$defs/", "")] || {}, defs);
  return schema;
}

function nonNull(schema: Schema): { inner: Schema; nullable: boolean } {
  if (schema.anyOf) {
    const rest = schema.anyOf.filter((s) => s.type !== "null");
    return { inner: rest[0] || {}, nullable: rest.length < schema.anyOf.length };
  }
  return { inner: schema, nullable: false };
}

export function defaultFor(schema: Schema, defs: Record<string, Schema>): Json {
  const s = resolve(schema, defs);
  if (s.default !== undefined) return s.default;
  if (s.const !== undefined) return s.const;
  const { inner, nullable } = nonNull(s);
  if (nullable) return null;
  switch (inner.type) {
    case "string":
      return inner.enum ? inner.enum[0] : "";
    case "number":
    case "integer":
      return inner.minimum ?? 0;
    case "boolean":
      return false;
    case "array":
      return [];
    case "object":
      if (inner.properties) return defaultObject(inner, defs);
      return {};
  }
  return "";
}

export function defaultObject(schema: Schema, defs: Record<string, Schema>): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  for (const name of schema.required || []) {
    out[name] = defaultFor(schema.properties![name], defs);
  }
  return out;
}

function Field(props: {
  name: string;
  schema: Schema;
  value: Json | undefined;
  onChange: (v: Json | undefined) => void;
  ctx: FormContext;
  required: boolean;
}): ReactNode {
  const { name, ctx, onChange, required } = props;
  const s = resolve(props.schema, ctx.defs);
  const { inner, nullable } = nonNull(s);
  const value = props.value;
  const label = tOr(`field_${name}`, inner.title || s.title || name);
  const testid = `field-${name}`;
  if (s.const !== undefined) return null;
  const clear = !required && (
    <button type="button" className="tiny" title={t("use_default")} onClick={() => onChange(undefined)}>↺</button>
  );
  if (SINGLE_EDGE(name) || PROMPT_FIELD(name)) {
    const options = SINGLE_EDGE(name) ? ctx.nodeIds : ctx.promptIds;
    return (
      <label className="field">
        <span>{label}</span>
        <select data-testid={testid} value={value == null ? "" : String(value)}
          onChange={(e) => onChange(e.target.value === "" ? (nullable ? null : "") : e.target.value)}>
          <option value="">{s.default != null ? `(${String(s.default)})` : nullable ? "—" : "?"}</option>
          {options.map((o) => <option key={o} value={o}>{o}</option>)}
          {typeof value === "string" && value && !options.includes(value) && <option value={value}>{value} (?)</option>}
        </select>
        {clear}
      </label>
    );
  }
  if (inner.enum) {
    return (
      <label className="field">
        <span>{label}</span>
        <select data-testid={testid} value={String(value ?? "")} onChange={(e) => onChange(e.target.value)}>
          {inner.enum.map((o) => <option key={o} value={o}>{o}</option>)}
        </select>
      </label>
    );
  }
  switch (inner.type) {
    case "boolean":
      return (
        <label className="field check">
          <input data-testid={testid} type="checkbox" checked={Boolean(value ?? s.default)} onChange={(e) => onChange(e.target.checked)} />
          <span>{label}</span>
          {clear}
        </label>
      );
    case "number":
    case "integer":
      return (
        <label className="field">
          <span>{label}</span>
          <input data-testid={testid} type="number" value={value == null ? "" : String(value)}
            placeholder={s.default != null ? String(s.default) : ""}
            onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />
        </label>
      );
    case "string":
      return (
        <label className="field">
          <span>{label}</span>
          <input data-testid={testid} value={value == null ? "" : String(value)}
            placeholder={s.default != null ? String(s.default) : ""}
            onChange={(e) => onChange(e.target.value === "" && !required ? undefined : e.target.value)} />
        </label>
      );
    case "object":
      if (inner.properties) {
        return (
          <fieldset className="sub">
            <legend>{label}</legend>
            <ObjectForm schema={inner} value={(value as { [k: string]: Json }) || {}} onChange={onChange} ctx={ctx} />
          </fieldset>
        );
      }
      return <MapField name={name} label={label} schema={inner} value={(value as { [k: string]: Json }) || {}} onChange={onChange} ctx={ctx} />;
    case "array": {
      const items = (value as Json[]) || [];
      const itemSchema = resolve(inner.items || {}, ctx.defs);
      return (
        <fieldset className="sub">
          <legend>{label}</legend>
          {items.map((item, i) => (
            <div key={i} className="array-item">
              {itemSchema.properties ? (
                <ObjectForm schema={itemSchema} value={item as { [k: string]: Json }} ctx={ctx}
                  onChange={(v) => onChange(items.map((x, j) => (j === i ? (v as Json) : x)))} />
              ) : (
                <input value={String(item)} onChange={(e) => onChange(items.map((x, j) => (j === i ? e.target.value : x)))} />
              )}
              <button type="button" className="tiny" onClick={() => onChange(items.filter((_, j) => j !== i))}>✕</button>
            </div>
          ))}
          <button type="button" className="tiny" onClick={() => onChange([...items, itemSchema.properties ? defaultObject(itemSchema, ctx.defs) : ""])}>+</button>
        </fieldset>
      );
    }
  }
  return (
    <label className="field">
      <span>{label}</span>
      <input value={value == null ? "" : JSON.stringify(value)} onChange={(e) => {
        try { onChange(JSON.parse(e.target.value)); } catch { /* keep typing */ }
      }} />
    </label>
  );
}

function MapField(props: {
  name: string; label: string; schema: Schema; value: { [k: string]: Json };
  onChange: (v: Json) => void; ctx: FormContext;
}) {
  const { name, value, onChange, ctx } = props;
  const edge = MAP_EDGE(name);
  const entries = Object.entries(value);
  return (
    <fieldset className="sub">
      <legend>{props.label}</legend>
      {entries.map(([k, v]) => (
        <div key={k} className="kv">
          <input className="key" data-testid={`key-${name}-${k}`} defaultValue={k} onBlur={(e) => {
            const nk = e.target.value;
            if (nk && nk !== k) {
              const next: { [k: string]: Json } = {};
              for (const [a, b] of entries) next[a === k ? nk : a] = b;
              onChange(next);
            }
          }} />
          {edge ? (
            <select data-testid={`map-${name}-${k}`} value={String(v)} onChange={(e) => onChange({ ...value, [k]: e.target.value })}>
              <option value="">?</option>
              {ctx.nodeIds.map((o) => <option key={o} value={o}>{o}</option>)}
            </select>
          ) : (
            <input value={typeof v === "string" ? v : JSON.stringify(v)} onChange={(e) => {
              let parsed: Json = e.target.value;
              if (typeof v !== "string") { try { parsed = JSON.parse(e.target.value); } catch { /* text */ } }
              onChange({ ...value, [k]: parsed });
            }} />
          )}
          <button type="button" className="tiny" onClick={() => { const next = { ...value }; delete next[k]; onChange(next); }}>✕</button>
        </div>
      ))}
      <button type="button" className="tiny" data-testid={`add-${name}`} onClick={() => {
        let key = name === "options" ? "1" : "key";
        let n = 1;
        while (key in value) key = name === "options" ? String(++n % 10) : `key${++n}`;
        onChange({ ...value, [key]: "" });
      }}>+</button>
    </fieldset>
  );
}

export function ObjectForm(props: {
  schema: Schema;
  value: { [k: string]: Json };
  onChange: (v: { [k: string]: Json }) => void;
  ctx: FormContext;
}) {
  const { schema, value, onChange, ctx } = props;
  return (
    <div className="objform">
      {Object.entries(schema.properties || {}).map(([name, prop]) => (
        <Field key={name} name={name} schema={prop} value={value[name]} ctx={ctx}
          required={(schema.required || []).includes(name)}
          onChange={(v) => {
            const next = { ...value };
            if (v === undefined) delete next[name];
            else next[name] = v;
            onChange(next);
          }} />
      ))}
    </div>
  );
}
