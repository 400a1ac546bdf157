// The Workflow controller's I/O: gather the Workflow and its Functions from the informer caches,
// plan (plan.ts), write status with server-side apply and record the transitions as Events.
// Functions changing re-evaluate the Workflows that name them (an index by Function).
import { API_VERSION, hearthFunction, workflow, type Workflow } from "../../api/v1alpha1/index.ts";
import type { KubeClient } from "../../kube/client.ts";
import type { Clock } from "../../kube/clock.ts";
import type { EventRecorder } from "../../kube/events.ts";
import type { Informer } from "../../kube/informer.ts";
import { keyOf, splitKey, type Unstructured } from "../../kube/objects.ts";
import { TerminalError, type ReconcileResult, type WorkQueue } from "../../kube/queue.ts";
import { hearthWorkflows } from "../../kube/resources.ts";
import { watch, type ControllerContext, type ControllerRegistration, type Manager } from "../../operator/manager.ts";
import { functionsCache } from "../shared.ts";
import { planWorkflow, type FunctionFacts } from "./plan.ts";

export const FIELD_MANAGER = "hearth-workflow-controller";
export const CONTROLLER_NAME = "workflow";
const BY_FUNCTION = "function";

export interface WorkflowControllerOptions {
  /** The Function informer, shared with the Function controller; absent: the manager gets one more. */
  functions?: Informer<Unstructured>;
  /** Base URL of the gateway, for status.endpoint. */
  gatewayUrl?: string | undefined;
  concurrency?: number;
  timeoutMs?: number;
  resyncMs?: number;
}

/** `namespace/function` of every step, for the index that maps a Function to its Workflows. */
function functionKeysOf(raw: Unstructured): string[] {
  const steps: unknown = (raw["spec"] as { steps?: unknown } | undefined)?.steps;
  if (!Array.isArray(steps)) return [];
  const names = steps.map((s: unknown) => (s as { functionRef?: { name?: unknown } } | null)?.functionRef?.name).filter((n): n is string => typeof n === "string");
  return [...new Set(names)].map((n) => `${raw.metadata.namespace ?? ""}/${n}`);
}

export class WorkflowController {
  readonly workflows: Informer<Unstructured>;
  readonly functions: Informer<Unstructured>;
  readonly queue: WorkQueue;
  private readonly client: KubeClient;
  private readonly clock: Clock;
  private readonly recorder: EventRecorder;
  private readonly gatewayUrl: string | undefined;
  /** The last Event of each kind recorded per Workflow: a cache behind our own write must not repeat it. */
  private readonly recorded = new Map<string, Map<string, string>>();

  constructor(manager: Manager, opts: WorkflowControllerOptions = {}) {
    this.client = manager.client.as(FIELD_MANAGER);
    this.clock = manager.clock;
    this.recorder = manager.recorder;
    this.gatewayUrl = opts.gatewayUrl;
    this.workflows = manager.informer(hearthWorkflows, { name: "hearth-workflows", client: this.client, indexers: { [BY_FUNCTION]: functionKeysOf } });
    this.functions = opts.functions ?? functionsCache(manager);
    this.workflows.on({ delete: (w) => this.recorded.delete(keyOf(w)) });
    const registration: ControllerRegistration = {
      name: CONTROLLER_NAME,
      watches: [watch(this.workflows), watch(this.functions, (fn) => this.workflows.byIndex(BY_FUNCTION, keyOf(fn)).map(keyOf))],
      reconcile: (ctx) => this.reconcile(ctx),
      concurrency: opts.concurrency ?? 4,
    };
    if (opts.timeoutMs !== undefined) registration.timeoutMs = opts.timeoutMs;
    if (opts.resyncMs !== undefined) registration.resyncMs = opts.resyncMs;
    this.queue = manager.register(registration).queue;
  }

  private functionFacts(namespace: string, name: string): FunctionFacts | undefined {
    const raw = this.functions.getByName(namespace, name);
    if (raw === undefined) return undefined;
    const fn = hearthFunction.safeParse(raw);
    if (!fn.success) return undefined;
    const ready = fn.data.status?.conditions?.find((c) => c.type === "Ready");
    return { encoding: fn.data.spec.encoding, ready: ready?.status === "True", reason: ready?.status === "True" ? undefined : (ready?.reason ?? "NoStatus") };
  }

  async reconcile(ctx: ControllerContext): Promise<ReconcileResult> {
    const raw = this.workflows.get(ctx.key);
    if (raw === undefined) return;
    const parsed = workflow.safeParse(raw);
    if (!parsed.success) throw new TerminalError(`Workflow ${ctx.key} does not match the schema: ${parsed.error.message}`);
    const wf: Workflow = parsed.data;
    const namespace = splitKey(ctx.key).namespace ?? "";
    const functions = new Map<string, FunctionFacts | undefined>();
    for (const s of wf.spec.steps) functions.set(s.functionRef.name, this.functionFacts(namespace, s.functionRef.name));
    const plan = planWorkflow({ workflow: wf, functions, gatewayUrl: this.gatewayUrl, now: new Date(this.clock.now()) });
    if (plan.statusChanged) {
      await this.client.applyStatus(hearthWorkflows, { name: wf.metadata.name, namespace }, plan.status, { signal: ctx.signal });
      ctx.log.debug({ conditions: plan.status.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`).join(",") }, "status written");
    }
    const subject = { apiVersion: API_VERSION, kind: "Workflow", name: wf.metadata.name, namespace, uid: wf.metadata.uid };
    let seen = this.recorded.get(ctx.key);
    if (seen === undefined) this.recorded.set(ctx.key, (seen = new Map<string, string>()));
    for (const e of plan.events) {
      const id = `${e.reason}\u0000${e.message}`;
      if (seen.get(e.condition) === id) continue;
      seen.set(e.condition, id);
      this.recorder.record(subject, e.type, e.reason, e.message);
    }
    return undefined;
  }
}
