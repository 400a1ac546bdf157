// Prometheus metrics of the gateway (`hearth_gateway_<name>_<unit>`), per function where it
// matters for autoscaling and alerting. Queue and worker gauges are read from the engine at
// scrape time rather than kept up to date on the hot path.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { FunctionStats, TaskErrorType } from "../protocol/index.ts";
import type { EngineMetrics, Task } from "./tasks.ts";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

export class GatewayMetrics implements EngineMetrics {
  readonly tasks: Counter<"namespace" | "function" | "outcome">;
  readonly retries: Counter<"namespace" | "function" | "class">;
  readonly queueSeconds: Histogram<"namespace" | "function">;
  readonly runSeconds: Histogram<"namespace" | "function">;
  readonly taskSeconds: Histogram<"namespace" | "function" | "outcome">;
  readonly requests: Counter<"route" | "code">;
  readonly commitSeconds: Histogram;
  readonly commitRows: Histogram;
  readonly coldStartSeconds: Histogram<"namespace" | "function">;

  constructor(registry: Registry, stats: () => { namespace: string; name: string; stats: FunctionStats }[]) {
    const labelNames = ["namespace", "function"] as const;
    const gauge = (name: string, help: string, pick: (s: FunctionStats) => number): void => {
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          for (const f of stats()) this.set({ namespace: f.namespace, function: f.name }, pick(f.stats));
        },
      });
    };
    gauge("hearth_gateway_queue_depth", "Tasks queued (including ones waiting for a retry backoff).", (s) => s.queueDepth);
    gauge("hearth_gateway_in_flight", "Tasks leased to workers.", (s) => s.inFlight);
    gauge("hearth_gateway_warm_workers", "Workers that reported ready (setup() done).", (s) => s.warmWorkers);
    gauge("hearth_gateway_busy_workers", "Workers holding at least one task.", (s) => s.busyWorkers);
    this.tasks = new Counter({
      name: "hearth_gateway_tasks_total",
      help: "Finished tasks by outcome: succeeded, or the exit-code class they failed with (UserError, Timeout, …, Cancelled).",
      labelNames: ["namespace", "function", "outcome"],
      registers: [registry],
    });
    this.retries = new Counter({
      name: "hearth_gateway_retries_total",
      help: "Attempts that ended without a result and were queued again, by class.",
      labelNames: ["namespace", "function", "class"],
      registers: [registry],
    });
    this.queueSeconds = new Histogram({
      name: "hearth_gateway_task_queue_seconds",
      help: "Time from acceptance to the first lease.",
      labelNames,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.runSeconds = new Histogram({
      name: "hearth_gateway_task_run_seconds",
      help: "Time from lease to the worker's report, last attempt.",
      labelNames,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.taskSeconds = new Histogram({
      name: "hearth_gateway_task_seconds",
      help: "Time from acceptance to the final outcome.",
      labelNames: ["namespace", "function", "outcome"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    this.coldStartSeconds = new Histogram({
      name: "hearth_gateway_cold_start_seconds",
      help: "Cold starts: from the first task queued while the Function had no ready worker to its first lease (scale from zero, new pods, setup()).",
      labelNames,
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
      registers: [registry],
    });
    this.requests = new Counter({ name: "hearth_gateway_requests_total", help: "HTTP requests by route and status code.", labelNames: ["route", "code"], registers: [registry] });
    this.commitSeconds = new Histogram({
      name: "hearth_gateway_store_commit_seconds",
      help: "Duration of one group commit to the task store.",
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1],
      registers: [registry],
    });
    this.commitRows = new Histogram({
      name: "hearth_gateway_store_commit_rows",
      help: "Task rows written by one group commit.",
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 1000],
      registers: [registry],
    });
  }

  taskStarted(task: Task, queuedMs: number): void {
    this.queueSeconds.observe({ namespace: task.namespace, function: task.name }, queuedMs / 1000);
  }

  taskFinished(task: Task, outcome: "succeeded" | TaskErrorType, runMs: number | undefined): void {
    const labels = { namespace: task.namespace, function: task.name };
    this.tasks.inc({ ...labels, outcome });
    if (runMs !== undefined) this.runSeconds.observe(labels, runMs / 1000);
    if (task.finishedAt !== null) this.taskSeconds.observe({ ...labels, outcome }, (task.finishedAt - task.createdAt) / 1000);
  }

  retried(task: Task, type: TaskErrorType): void {
    this.retries.inc({ namespace: task.namespace, function: task.name, class: type });
  }

  coldStart(namespace: string, name: string, seconds: number): void {
    this.coldStartSeconds.observe({ namespace, function: name }, seconds);
  }

  committed(rows: number, ms: number): void {
    this.commitSeconds.observe(ms / 1000);
    this.commitRows.observe(rows);
  }
}
