// Leader election on a coordination.k8s.io/v1 Lease, the way client-go does it: the holder
// renews every retry period; a candidate takes the lease once it has seen the same record for
// a whole lease duration (measured on its own clock, so clock skew between machines does not
// matter); updates are compare-and-swap on resourceVersion. A leader that cannot renew within
// the renew deadline steps down, and a graceful stop releases the lease so that a standby
// takes over at once.
import type { Logger } from "pino";
import { Gauge, type Registry } from "prom-client";
import type { Clock } from "./clock.ts";
import type { ApplyObject, KubeClient } from "./client.ts";
import { describeStatus, isAlreadyExists, isConflict, toStatus } from "./errors.ts";
import type { Lease } from "./objects.ts";
import { leases } from "./resources.ts";

export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  /** Unique per process, e.g. pod name + random suffix. */
  identity: string;
  /** How long a lease is valid without renewal. Default 6 s. */
  leaseDurationMs?: number;
  /** A leader that has not renewed for this long steps down. Default 4 s; must be < lease duration. */
  renewDeadlineMs?: number;
  /** Between attempts to acquire or renew. Default 1 s. */
  retryPeriodMs?: number;
}

/** The three Lease operations election needs (a KubeClient via `leaseClient`, or a test double). */
export interface LeaseClient {
  get(name: string, namespace: string, signal: AbortSignal): Promise<Lease | undefined>;
  create(lease: ApplyObject, signal: AbortSignal): Promise<Lease>;
  /** PUT with metadata.resourceVersion: fails with 409 Conflict when someone wrote in between. */
  replace(lease: ApplyObject, signal: AbortSignal): Promise<Lease>;
}

export function leaseClient(client: KubeClient): LeaseClient {
  return {
    get: (name, namespace, signal) => client.get(leases, name, namespace, signal),
    create: (lease, signal) => client.create(leases, lease, signal),
    replace: (lease, signal) => client.replace(leases, lease, signal),
  };
}

export interface LeaderElectorOptions extends LeaderElectionConfig {
  client: LeaseClient;
  clock: Clock;
  logger: Logger;
  registry?: Registry | undefined;
  onStartedLeading(): void;
  onStoppedLeading(): void;
  onNewLeader?(identity: string): void;
}

interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function recordOf(l: Lease): LeaseRecord {
  return {
    holderIdentity: l.spec.holderIdentity ?? "",
    leaseDurationSeconds: l.spec.leaseDurationSeconds ?? 0,
    acquireTime: l.spec.acquireTime ?? "",
    renewTime: l.spec.renewTime ?? "",
    leaseTransitions: l.spec.leaseTransitions ?? 0,
  };
}

function sameRecord(a: LeaseRecord | undefined, b: LeaseRecord): boolean {
  return (
    a !== undefined &&
    a.holderIdentity === b.holderIdentity &&
    a.renewTime === b.renewTime &&
    a.acquireTime === b.acquireTime &&
    a.leaseTransitions === b.leaseTransitions &&
    a.leaseDurationSeconds === b.leaseDurationSeconds
  );
}

export class LeaderElector {
  private readonly opts: LeaderElectorOptions;
  private readonly log: Logger;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly gauge: Gauge<"lease"> | undefined;
  private observed: LeaseRecord | undefined;
  private observedAt = 0;
  private observedResourceVersion: string | undefined;
  private leading = false;
  private lastLeader: string | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.opts = opts;
    this.log = opts.logger.child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
    this.leaseDurationMs = opts.leaseDurationMs ?? 6_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 4_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 1_000;
    if (this.renewDeadlineMs >= this.leaseDurationMs) throw new Error("leader election: renewDeadline must be shorter than leaseDuration");
    if (this.retryPeriodMs >= this.renewDeadlineMs) throw new Error("leader election: retryPeriod must be shorter than renewDeadline");
    if (opts.registry !== undefined) {
      this.gauge = new Gauge({ name: "hearth_leader_is_leader", help: "1 while this process holds the lease.", labelNames: ["lease"], registers: [opts.registry] });
      this.gauge.set({ lease: opts.name }, 0);
    }
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Who holds the lease as last observed ("" when free or unknown). */
  leader(): string {
    return this.observed?.holderIdentity ?? "";
  }

  /**
   * Campaigns until leading, then renews until the lease is lost or `signal` aborts. Resolves
   * when this elector is done: after losing the lease (onStoppedLeading was called) or, on
   * abort, after releasing it.
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && !this.leading) {
      if (await this.tryAcquireOrRenew(signal)) break;
      await this.sleep(this.jittered(), signal);
    }
    if (signal.aborted) return;
    this.setLeading(true);
    let lastRenew = this.opts.clock.now();
    while (!signal.aborted) {
      await this.sleep(this.retryPeriodMs, signal);
      if (signal.aborted) break;
      const attempt = AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, this.renewDeadlineMs - (this.opts.clock.now() - lastRenew)))]);
      const ok = await this.tryAcquireOrRenew(attempt);
      if (ok) {
        lastRenew = this.opts.clock.now();
        continue;
      }
      if (signal.aborted) break;
      if (this.opts.clock.now() - lastRenew >= this.renewDeadlineMs || (this.observed !== undefined && this.observed.holderIdentity !== this.opts.identity)) {
        this.log.error({ sinceRenewMs: this.opts.clock.now() - lastRenew, holder: this.observed?.holderIdentity }, "lost the lease");
        this.setLeading(false);
        return;
      }
    }
    await this.release();
  }

  /** Gives the lease up (if held) so that a standby can take over immediately. */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.setLeading(false);
    const o = this.observed;
    if (o === undefined || o.holderIdentity !== this.opts.identity || this.observedResourceVersion === undefined) return;
    const now = microTime(this.opts.clock.now());
    try {
      await this.opts.client.replace(
        {
          metadata: { name: this.opts.name, namespace: this.opts.namespace, resourceVersion: this.observedResourceVersion },
          spec: { holderIdentity: "", leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: o.leaseTransitions },
        },
        AbortSignal.timeout(2_000),
      );
      this.log.info("released the lease");
    } catch (err) {
      this.log.warn({ error: describeStatus(toStatus(err)) }, "could not release the lease; it will expire");
    }
  }

  private setLeading(v: boolean): void {
    if (this.leading === v) return;
    this.leading = v;
    this.gauge?.set({ lease: this.opts.name }, v ? 1 : 0);
    if (v) {
      this.log.info("became the leader");
      this.opts.onStartedLeading();
    } else {
      this.opts.onStoppedLeading();
    }
  }

  private jittered(): number {
    return Math.round(this.retryPeriodMs * (1 + 0.2 * Math.random()));
  }

  private async sleep(ms: number, signal: AbortSignal): Promise<void> {
    try {
      await this.opts.clock.sleep(ms, signal);
    } catch {
      // aborted: the caller checks the signal
    }
  }

  private observe(l: Lease): LeaseRecord {
    const rec = recordOf(l);
    if (!sameRecord(this.observed, rec)) {
      this.observed = rec;
      this.observedAt = this.opts.clock.now();
      if (rec.holderIdentity !== "" && rec.holderIdentity !== this.lastLeader) {
        this.lastLeader = rec.holderIdentity;
        this.opts.onNewLeader?.(rec.holderIdentity);
      }
    }
    this.observedResourceVersion = l.metadata.resourceVersion;
    return rec;
  }

  /** One step of the protocol; true when this process holds the lease afterwards. */
  async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const now = this.opts.clock.now();
    const desired = (prev: LeaseRecord | undefined): LeaseRecord => {
      const mine = prev !== undefined && prev.holderIdentity === this.opts.identity;
      return {
        holderIdentity: this.opts.identity,
        leaseDurationSeconds: Math.max(1, Math.ceil(this.leaseDurationMs / 1000)),
        acquireTime: mine ? prev.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: prev === undefined ? 0 : mine ? prev.leaseTransitions : prev.leaseTransitions + 1,
      };
    };
    try {
      const current = await this.opts.client.get(this.opts.name, this.opts.namespace, signal);
      if (current === undefined) {
        const created = await this.opts.client.create({ metadata: { name: this.opts.name, namespace: this.opts.namespace }, spec: desired(undefined) }, signal);
        this.observe(created);
        return true;
      }
      const rec = this.observe(current);
      const heldByOther = rec.holderIdentity !== "" && rec.holderIdentity !== this.opts.identity;
      if (heldByOther && this.observedAt + rec.leaseDurationSeconds * 1000 > now) return false;
      const updated = await this.opts.client.replace(
        { metadata: { name: this.opts.name, namespace: this.opts.namespace, resourceVersion: current.metadata.resourceVersion ?? "" }, spec: desired(rec) },
        signal,
      );
      this.observe(updated);
      return true;
    } catch (err) {
      if (!isConflict(err) && !isAlreadyExists(err) && !signal.aborted) {
        this.log.warn({ error: describeStatus(toStatus(err)) }, "lease request failed");
      }
      return false;
    }
  }
}
