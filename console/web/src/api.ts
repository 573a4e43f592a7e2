// The console's JSON API: same-origin fetch with the session cookie; unsafe methods send the
// CSRF token; errors arrive as application/problem+json and become ApiError, whose message is
// the problem's code said in the console's language (i18n `say`).
import { say } from "./i18n";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code?: string;
  params?: Record<string, unknown>;
  errors?: Array<Record<string, unknown>>;
  current?: Record<string, unknown>;
}

export class ApiError extends Error {
  status: number;
  problem: Problem;
  constructor(problem: Problem) {
    super(say({ code: problem.code, params: problem.params, text: problem.detail || problem.title }));
    this.status = problem.status;
    this.problem = problem;
  }
}

function cookie(name: string): string {
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = cookie("ivr_csrf");
  const response = await fetch("/api/v1" + path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return undefined as T;
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    if (type.includes("json")) throw new ApiError(await response.json());
    throw new ApiError({ type: "about:blank", title: response.statusText, status: response.status });
  }
  if (!type.includes("json")) return (await response.blob()) as T;
  return (await response.json()) as T;
}

// A multipart upload (a file field); the browser sets the boundary, we add the CSRF token.
export async function upload<T>(path: string, form: FormData): Promise<T> {
  const response = await fetch("/api/v1" + path, {
    method: "POST",
    headers: { Accept: "application/json", "X-CSRF-Token": cookie("ivr_csrf") },
    credentials: "same-origin",
    body: form,
  });
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    if (type.includes("json")) throw new ApiError(await response.json());
    throw new ApiError({ type: "about:blank", title: response.statusText, status: response.status });
  }
  return (await response.json()) as T;
}

export interface Me {
  user_id: string;
  username: string;
  role: string;
  via: string;
  permissions: string[];
}

export interface Meta {
  version: string;
  institution: string;
  timezone: string;
  languages: string[];
  default_language: string;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}
