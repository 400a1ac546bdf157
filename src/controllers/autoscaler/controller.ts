// The built-in autoscaler, on the operator's leader. Gather: the Function (informer), its pods
// (the Function controller's cache) and its demand, pushed by the gateway (GET /v1/demand).
// Plan: decide() (pure). Apply: warmPool.replicas through the Function's scale subresource (the
// Function controller turns it into the Deployment's replicas), idle pods marked with
// pod-deletion-cost before a scale-down so the ReplicaSet removes those and never a busy one,
// the demand numbers and an Autoscaling condition for status (published in-process to the
// Function controller, whose one status write carries them: src/controllers/shared.ts
// AutoscalerBoard), a rate-limited Event per decision, and metrics. A new leader starts from
// the Function's warmPool.replicas.
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { Counter, Gauge } from "prom-client";
import { API_VERSION, type Condition, type FunctionStatus } from "../../api/v1alpha1/index.ts";
import type { AutoscalerStatus } from "../function/status.ts";
import { decide, type Decision, type Sample } from "../../autoscaler/decide.ts";
import { DemandStream, type FunctionDemandMessage, type StreamEvent } from "../../autoscaler/demand-stream.ts";
import type { KubeClient } from "../../kube/client.ts";
import { fingerprint, type Deployment, type Unstructured } from "../../kube/objects.ts";
import type { ReconcileResult } from "../../kube/queue.ts";
import { hearthFunctions, pods } from "../../kube/resources.ts";
import { watch, type ControllerContext } from "../../operator/manager.ts";
import type { ControllerDefinition, ControllerSetup } from "../../operator/controller.ts";
import { BY_FUNCTION, POD_DELETION_COST } from "../function/caches.ts";
import { autoscalerBoard, functionParses, functionsCache, warmPoolDeployments, warmPoolPods } from "../shared.ts";
import { deploymentName } from "../function/names.ts";

/**
 * The autoscaler's field manager: the scale subresource. (Status was once applied under it too;
 * the Function controller releases what that left behind: function/controller.ts.)
 */
export const FIELD_MANAGER = "hearth-autoscaler";
const CONDITION = "Autoscaling";
/** Deletion costs: the ReplicaSet removes the lowest first. */
const IDLE_COST = "-100";
const BUSY_COST = "100";

function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function ownerKey(d: Deployment): string[] {
  const ref = d.metadata.ownerReferences?.find((r) => r.controller === true && r.kind === "Function");
  return ref === undefined || d.metadata.namespace === undefined ? [] : [`${d.metadata.namespace}/${ref.name}`];
}

interface Memo {
  history: Sample[];
  statusPrint: string;
  statusAt: number;
  lastEventAt: number;
  lastScaleTime: string | undefined;
  transition: { reason: string; status: string; at: string } | undefined;
}

export function autoscalerController(): ControllerDefinition {
  return { name: "autoscaler", setup: (ctx) => setup(ctx) };
}

function setup({ manager, config }: ControllerSetup): void {
  {
    const functions = {
      functions: functionsCache(manager),
      // The Function controller's caches (one list/watch, one copy in memory).
      deployments: warmPoolDeployments(manager),
      pods: warmPoolPods(manager),
    };
    const settings = config.autoscaler;
    if (!settings.enabled) return;
    const client: KubeClient = manager.client.as(FIELD_MANAGER);
    const board = autoscalerBoard(manager);
    const parseFunctionOf = functionParses(manager);
    board.active = true;
    const log: Logger = manager.logger.child({ controller: "autoscaler" });
    const clock = manager.clock;
    const demand = new Map<string, FunctionDemandMessage>();
    const memos = new Map<string, Memo>();
    let connected = false;
    let lastError = "not connected yet";
    let observingSince = clock.now();

    const reg = manager.registry;
    const labelNames = ["namespace", "function"] as const;
    const desiredGauge = new Gauge({ name: "hearth_autoscaler_desired_replicas", help: "Workers the built-in autoscaler wants for a Function.", labelNames, registers: [reg] });
    const actualGauge = new Gauge({ name: "hearth_autoscaler_actual_replicas", help: "Workers the Function's Deployment has (status.replicas).", labelNames, registers: [reg] });
    const demandGauge = new Gauge({ name: "hearth_autoscaler_demand_tasks", help: "Queued plus in-flight tasks of a Function, as the gateway last reported.", labelNames, registers: [reg] });
    const decisions = new Counter({ name: "hearth_autoscaler_decisions_total", help: "Scale decisions written, by direction.", labelNames: ["namespace", "function", "direction"], registers: [reg] });
    const streamUp = new Gauge({ name: "hearth_autoscaler_demand_stream_up", help: "1 while the gateway's demand stream is connected.", registers: [reg] });

    const registered = manager.register({
      name: "autoscaler",
      watches: [
        watch(functions.functions, undefined, {
          update: (a, b) => a.metadata.generation !== b.metadata.generation || a.metadata.deletionTimestamp !== b.metadata.deletionTimestamp,
        }),
      ],
      reconcile: (ctx) => reconcile(ctx),
      concurrency: 16,
      timeoutMs: 30_000,
      // Demand events, the stream's snapshot, status pacing and scale-down windows (recheckAfterMs)
      // all requeue what they need; the resync is only a safety net (at 60 s it was 8 of every 11
      // reconciles per Function in bench/reconcile).
      resyncMs: 600_000,
    });
    // A Deployment's replicas feed only the actual-replicas gauge (decide() never reads them):
    // its events update the gauge of a Function this autoscaler tracks, without a reconcile.
    const actual = (d: Deployment, replicas: number): void => {
      for (const key of ownerKey(d)) {
        if (!memos.has(key)) continue;
        const [namespace = "", name = ""] = key.split("/");
        actualGauge.set({ namespace, function: name }, replicas);
      }
    };
    functions.deployments.on({
      add: (d) => actual(d, d.status.replicas ?? 0),
      update: (a, b) => a.status.replicas !== b.status.replicas && actual(b, b.status.replicas ?? 0),
      delete: (d) => actual(d, 0),
    });
    const enqueue = (key: string): void => registered.queue.add(key);
    const enqueueAll = (): void => {
      for (const f of functions.functions.list()) enqueue(`${f.metadata.namespace ?? ""}/${f.metadata.name}`);
    };

    const onEvent = (ev: StreamEvent): void => {
      switch (ev.type) {
        case "snapshot": {
          const before = new Set(demand.keys());
          demand.clear();
          for (const f of ev.functions) demand.set(`${f.namespace}/${f.name}`, f);
          if (!connected) log.info({ functions: ev.functions.length }, "demand stream connected");
          connected = true;
          streamUp.set(1);
          enqueueAll();
          for (const k of before) if (!demand.has(k)) enqueue(k);
          return;
        }
        case "demand":
          for (const f of ev.functions) {
            const key = `${f.namespace}/${f.name}`;
            demand.set(key, f);
            enqueue(key);
          }
          return;
        case "down":
          if (connected || ev.error !== lastError) log.warn({ err: ev.error }, "demand stream down; pools hold their size");
          lastError = ev.error;
          if (connected) {
            connected = false;
            streamUp.set(0);
            enqueueAll();
          }
          return;
        default: {
          const never: never = ev;
          return never;
        }
      }
    };

    const token = async (): Promise<string | undefined> => {
      const file = config.gatewayClient.callerTokenFile;
      if (file === undefined) return undefined;
      return (await readFile(file, "utf8")).split("\n")[0]?.trim();
    };
    let stream: DemandStream | undefined;
    manager.add({
      name: "demand-stream",
      leaderOnly: true,
      start(signal) {
        observingSince = clock.now();
        stream = new DemandStream({ url: new URL("/v1/demand", config.gateway.url).toString(), token, onEvent, clock });
        void stream.run(signal);
      },
      async stop() {
        stream?.stop();
      },
    });

    async function reconcile(ctx: ControllerContext): Promise<ReconcileResult> {
      const { key, signal } = ctx;
      const raw = functions.functions.get(key);
      if (raw === undefined || raw.metadata.deletionTimestamp !== undefined) {
        memos.delete(key);
        board.forget(key);
        const [namespace = "", name = ""] = key.split("/");
        for (const g of [desiredGauge, actualGauge, demandGauge]) g.remove({ namespace, function: name });
        return;
      }
      const parsed = parseFunctionOf(raw);
      if (!parsed.ok || parsed.fn.spec.invocation === "isolated") {
        // Not autoscaled: the Function's status carries no autoscaler part.
        memos.delete(key);
        if (board.get(key) !== null) board.publish(key, null);
        return;
      }
      const fn = parsed.fn;
      const namespace = fn.metadata.namespace ?? "default";
      const name = fn.metadata.name;
      const now = clock.now();
      const memo: Memo = memos.get(key) ?? { history: [], statusPrint: "", statusAt: 0, lastEventAt: 0, lastScaleTime: undefined, transition: undefined };
      memos.set(key, memo);
      const d = connected ? demand.get(key) : undefined;
      const seen = connected ? (d ?? { queued: 0, inflight: 0 }) : undefined;
      const decision = decide({
        pool: fn.spec.warmPool,
        concurrency: fn.spec.concurrency,
        defaultTargetUtilization: settings.targetUtilization,
        demand: seen === undefined ? undefined : { queued: seen.queued, inflight: seen.inflight },
        missing: lastError,
        history: memo.history,
        now,
        observingSince,
      });
      memo.history = decision.history;
      const labels = { namespace, function: name };
      if (seen !== undefined) demandGauge.set(labels, seen.queued + seen.inflight);
      const deployment = functions.deployments.getByName(namespace, deploymentName(name));
      actualGauge.set(labels, deployment?.status.replicas ?? 0);
      if (fn.spec.warmPool.autoscaler === "hearth") desiredGauge.set(labels, decision.desired);
      else desiredGauge.remove(labels);

      if (decision.write) {
        if (decision.direction === "down") await markIdlePods(key, new Set(d?.busy ?? []), signal, ctx.log);
        await client.scale(hearthFunctions, name, namespace, decision.desired, signal);
        memo.lastScaleTime = rfc3339(now);
        if (decision.direction !== "none") {
          decisions.inc({ ...labels, direction: decision.direction });
          scaleEvent(raw, memo, decision, now);
        }
        ctx.log.info({ from: decision.current, to: decision.desired, demand: seen }, "scaled the warm pool");
      }

      const wait = publishStatus(key, raw, memo, decision, d, now);
      const next = [wait, decision.recheckAfterMs].filter((n): n is number => n !== undefined);
      return next.length > 0 ? { requeueAfterMs: Math.max(10, Math.min(...next)) } : undefined;
    }

    /** Before a scale-down: idle workers cheapest to delete, busy ones dearest. */
    async function markIdlePods(key: string, busy: ReadonlySet<string>, signal: AbortSignal, plog: Logger): Promise<void> {
      const live = functions.pods.byIndex(BY_FUNCTION, key).filter((p) => p.metadata.deletionTimestamp === undefined);
      const patches = live.flatMap((p) => {
        const want = busy.has(p.metadata.name) ? BUSY_COST : IDLE_COST;
        if (p.metadata.annotations?.[POD_DELETION_COST] === want) return [];
        return [client.mergePatch(pods, p.metadata.name, p.metadata.namespace, { metadata: { annotations: { [POD_DELETION_COST]: want } } }, signal).catch((err: unknown) => plog.warn({ err, pod: p.metadata.name }, "cannot set pod-deletion-cost"))];
      });
      await Promise.all(patches);
    }

    function scaleEvent(raw: Unstructured, memo: Memo, decision: Decision, now: number): void {
      if (now - memo.lastEventAt < settings.eventIntervalSeconds * 1000) return;
      memo.lastEventAt = now;
      manager.recorder.record(
        { apiVersion: API_VERSION, kind: "Function", name: raw.metadata.name, namespace: raw.metadata.namespace ?? "default", uid: raw.metadata.uid },
        "Normal",
        decision.direction === "up" ? "ScaledUp" : "ScaledDown",
        `warm pool ${decision.current} → ${decision.desired} workers: ${decision.condition.message}`,
      );
    }

    /**
     * Publishes the demand numbers and the condition to the Function controller (which writes
     * them in its status) when they changed, at most every statusIntervalSeconds; else says when to retry.
     */
    function publishStatus(key: string, raw: Unstructured, memo: Memo, decision: Decision, d: FunctionDemandMessage | undefined, now: number): number | undefined {
      const previous = (raw["status"] ?? {}) as FunctionStatus;
      const c = decision.condition;
      const old = previous.conditions?.find((x) => x.type === CONDITION);
      const sameState = old !== undefined && old.status === c.status;
      const condition: Condition = { type: CONDITION, status: c.status, reason: c.reason, message: c.message, lastTransitionTime: sameState ? old.lastTransitionTime : rfc3339(now) };
      const generation = raw.metadata["generation"];
      if (typeof generation === "number") condition.observedGeneration = generation;
      const status: AutoscalerStatus = { condition };
      if (decision.condition.reason !== "ExternalAutoscaler") status.desiredReplicas = decision.desired;
      const numbers = d ?? (connected ? { queued: 0, inflight: 0, readyWorkers: 0, busyWorkers: 0 } : undefined);
      if (numbers !== undefined) {
        status.queueDepth = numbers.queued;
        status.inFlight = numbers.inflight;
        status.warmWorkers = numbers.readyWorkers;
        status.busyWorkers = numbers.busyWorkers;
      } else {
        // Stale but better than nothing: keep what status shows.
        for (const k of ["queueDepth", "inFlight", "warmWorkers", "busyWorkers"] as const) if (previous[k] !== undefined) status[k] = previous[k];
      }
      const scaleTime = memo.lastScaleTime ?? previous.lastScaleTime;
      if (scaleTime !== undefined) status.lastScaleTime = scaleTime;
      const cold = d?.lastColdStart ?? previous.lastColdStart;
      if (cold !== undefined) status.lastColdStart = cold;

      const print = fingerprint(JSON.stringify({ ...status, condition: [c.status, c.reason, c.message] }));
      if (print === memo.statusPrint) return undefined;
      const stateChanged = old?.reason !== c.reason || old.status !== c.status;
      const due = memo.statusAt + settings.statusIntervalSeconds * 1000 - now;
      if (due > 0 && !stateChanged && !decision.write) return due;
      board.publish(key, status);
      memo.statusPrint = print;
      memo.statusAt = now;
      return undefined;
    }
  }
}
