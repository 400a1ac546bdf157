// Caller authorization, one function for every caller route (seam 1 in the team's SEAMS.md):
// `authorize(req, {verb, resource, namespace, name})` answers who the caller is or throws
// 401 (no credible identity) / 403 (known, not allowed). Call it BEFORE reading a body or doing
// any work. Kubernetes mapping: invoke → SAR verb `create` on `functions/invoke` or
// `workflows/invoke` in the namespace; get/cancel of a task → the same right in the task's
// namespace; list (stats) → the same right, per namespace shown.
import type { IncomingMessage } from "node:http";
import type { Authenticator } from "./auth.ts";
import { HttpError } from "./http.ts";

export type Verb = "invoke" | "get" | "cancel" | "list";
export type Resource = "functions" | "workflows" | "tasks";

export interface AccessRequest {
  verb: Verb;
  resource: Resource;
  /** The namespace of the Function/Workflow, or of the task's Function. "" = every namespace (list). */
  namespace: string;
  /** The Function/Workflow name (for a task: its Function's name); undefined = any. */
  name?: string | undefined;
}

export interface Caller {
  /** How the caller proved who it is. */
  kind: "open" | "static" | "kubernetes" | "task";
  /** For logs and audit: the user name, `static:<id>` or `task:<id>`. */
  user: string;
  /** Task-scoped tokens: the task whose handler is calling. */
  parentTaskId?: string;
  depth?: number;
}

export type Authorize = (req: IncomingMessage, access: AccessRequest) => Promise<Caller>;

export class Authorizer {
  private readonly auth: Authenticator;
  // One authentication per request, however many checks a route makes.
  private readonly seen = new WeakMap<IncomingMessage, Promise<Caller>>();

  constructor(auth: Authenticator) {
    this.auth = auth;
  }

  /** Who is calling; throws HttpError 401 when the request carries no credible identity. */
  authenticate(req: IncomingMessage): Promise<Caller> {
    let caller = this.seen.get(req);
    if (caller === undefined) {
      caller = this.identify(req);
      this.seen.set(req, caller);
    }
    return caller;
  }

  /** Whether `caller` may do `access` (never throws for a plain "no"). */
  permits(caller: Caller, _access: AccessRequest): Promise<boolean> {
    return Promise.resolve(caller.kind === "open" || caller.kind === "static");
  }

  /** Who is calling, if allowed `access`; throws HttpError 401/403 otherwise. */
  authorize: Authorize = async (req, access) => {
    const caller = await this.authenticate(req);
    if (!(await this.permits(caller, access))) throw forbidden(caller, access);
    return caller;
  };

  private identify(req: IncomingMessage): Promise<Caller> {
    if (this.auth.callersOpen) return Promise.resolve({ kind: "open", user: "anonymous" });
    if (!this.auth.caller(req.headers.authorization)) return Promise.reject(new HttpError(401, "Unauthorized", "missing or unknown bearer token"));
    return Promise.resolve({ kind: "static", user: "static" });
  }
}

export function forbidden(caller: Caller, access: AccessRequest): HttpError {
  const what = access.name === undefined ? access.resource : `${access.resource}/${access.name}`;
  const where = access.namespace === "" ? "in every namespace" : `in namespace ${access.namespace}`;
  return new HttpError(403, "Forbidden", `${caller.user} may not ${access.verb} ${what} ${where}`);
}
