// gpu (from a Function) + the cluster's sharing strategy → what a pod requests. Pure.
// Rejections carry a message written for the Function's author: what is wrong, what this
// cluster supports, and what to change.
import type { GpuSpec } from "../api/v1alpha1/function.ts";
import { formatBytes, parseQuantity } from "../kube/quantity.ts";
import type { MigProfile } from "./catalog.ts";
import type { GpuConfig, GpuStrategy, GpuTypes, Toleration } from "./config.ts";

export interface GpuStatusSummary {
  resource: string;
  units: number;
  /** Share of one GPU per worker ("0.25"), or the number of whole GPUs ("2"). */
  fraction: string;
  strategy: GpuStrategy;
  profile?: string;
}

export interface GpuPlan {
  /** Extended resources, set as limits (and requests) of the worker container. */
  resources: Record<string, string>;
  /** Extra worker environment, e.g. HEARTH_GPU_FRACTION. */
  env: Record<string, string>;
  /** Node label requirements (ANDed), e.g. nvidia.com/gpu.product In [Tesla-T4]. */
  nodeSelector: { key: string; values: string[] }[];
  tolerations: Toleration[];
  runtimeClassName?: string;
  status: GpuStatusSummary;
}

export type GpuDecision = { ok: true; plan: GpuPlan | undefined } | { ok: false; reason: "InvalidGPU"; message: string };

const reject = (message: string): GpuDecision => ({ ok: false, reason: "InvalidGPU", message });

/** 0.25 → "0.25", 1/3 → "0.3333", 2 → "2". */
export function formatFraction(x: number): string {
  return String(Number(x.toFixed(4)));
}

interface Wanted {
  /** Whole GPUs, when the Function asks for whole ones. */
  whole?: number;
  /** The split N (>= 2) when it asks for 1/N. */
  split?: number;
  /** Bytes of GPU memory asked for. */
  memory?: number;
}

/** What the GPU field asks for, before any strategy (count, split, memory). */
function wanted(gpu: GpuSpec): Wanted | string {
  const split = gpu.split ?? 1;
  const count = gpu.count;
  if (count !== undefined && count > 1 && split > 1) {
    return "gpu.count > 1 cannot be combined with gpu.split: use count for whole GPUs or split for a fraction of one GPU";
  }
  const w: Wanted = {};
  if (gpu.memory !== undefined) {
    const bytes = parseQuantity(gpu.memory);
    if (bytes === undefined || bytes <= 0) return `gpu.memory "${String(gpu.memory)}" is not a positive quantity such as 10Gi`;
    w.memory = bytes;
  }
  if (split > 1) w.split = split;
  else if (count !== undefined || w.memory === undefined) w.whole = count ?? 1;
  return w;
}

export function planGpu(gpu: GpuSpec | undefined, config: GpuConfig, types: GpuTypes): GpuDecision {
  if (gpu === undefined) return { ok: true, plan: undefined };
  const w = wanted(gpu);
  if (typeof w === "string") return reject(w);

  const nodeSelector: GpuPlan["nodeSelector"] = [];
  const typeName = gpu.type;
  const known = Object.keys(types).sort();
  const type = typeName !== undefined ? types[typeName] : undefined;
  if (typeName !== undefined) {
    if (type === undefined) {
      return reject(
        known.length === 0
          ? `gpu.type "${typeName}" is not known: this cluster's operator config lists no GPU types; remove gpu.type to take any GPU`
          : `gpu.type "${typeName}" is not known; this cluster offers: ${known.join(", ")}`,
      );
    }
    nodeSelector.push({ key: config.productLabel, values: [...type.products] });
  }
  const typeMemory = type?.memory !== undefined ? parseQuantity(type.memory) : undefined;
  if (w.memory !== undefined && typeMemory !== undefined && w.memory > typeMemory) {
    return reject(`gpu.memory ${formatBytes(w.memory)} is more than a whole ${typeName ?? "GPU"} has (${type?.memory ?? ""})`);
  }
  if (w.memory !== undefined && w.split !== undefined && typeMemory !== undefined && w.memory > typeMemory / w.split && config.strategy !== "mig") {
    return reject(
      `gpu.memory ${formatBytes(w.memory)} does not fit in 1/${w.split} of a ${typeName ?? "GPU"} (${formatBytes(Math.floor(typeMemory / w.split))}): lower gpu.split or gpu.memory`,
    );
  }

  const base = {
    nodeSelector,
    tolerations: config.tolerations.map((t) => ({ ...t })),
    ...(config.runtimeClassName !== undefined ? { runtimeClassName: config.runtimeClassName } : {}),
  };
  const whole = (count: number): GpuDecision => ({
    ok: true,
    plan: {
      ...base,
      resources: { [config.wholeGpuResource]: String(count) },
      env: {},
      status: { resource: config.wholeGpuResource, units: count, fraction: String(count), strategy: config.strategy },
    },
  });
  if (w.whole !== undefined) return whole(w.whole);

  // A fraction: 1/split, or (memory only) the memory's share of this GPU type.
  let fraction: number;
  if (w.split !== undefined) fraction = 1 / w.split;
  else if (w.memory !== undefined && typeMemory !== undefined) fraction = w.memory / typeMemory;
  else fraction = Number.NaN;

  const strategy = config.strategy;
  switch (strategy) {
    case "none":
      if (w.split !== undefined) {
        return reject(
          `gpu.split: ${w.split} asks for 1/${w.split} of a GPU, but this cluster does not share GPUs (operator gpu.strategy: none): request whole GPUs with gpu.count, or ask the platform team to enable timeSlicing, mps, mig or hami`,
        );
      }
      return whole(1);
    case "timeSlicing":
    case "mps": {
      const p = strategy === "mps" ? { ...config.mps, failRequestsGreaterThanOne: true } : config.timeSlicing;
      if (Number.isNaN(fraction)) {
        return reject(`gpu.memory without gpu.split needs gpu.type (one of: ${known.join(", ")}) so that the share of the GPU can be computed`);
      }
      const units = Math.max(1, Math.ceil(p.replicas * fraction - 1e-9));
      const how = strategy === "mps" ? "MPS" : "time-slicing";
      if (units > 1 && p.failRequestsGreaterThanOne) {
        return reject(
          `${describeAsk(w)} needs ${units} of the ${p.replicas} shares of a GPU, but this cluster shares each GPU ${p.replicas} ways with ${how}${strategy === "mps" ? "" : " and failRequestsGreaterThanOne"}, so a worker holds at most 1 share: the coarsest fraction is 1/${p.replicas}. Use gpu.split of ${p.replicas} or more, or gpu.count for a whole GPU`,
        );
      }
      if (units > p.replicas) return whole(1);
      return {
        ok: true,
        plan: {
          ...base,
          resources: { [p.resourceName]: String(units) },
          env: { HEARTH_GPU_FRACTION: formatFraction(Math.min(fraction, units / p.replicas)) },
          status: { resource: p.resourceName, units, fraction: formatFraction(Math.min(fraction, units / p.replicas)), strategy },
        },
      };
    }
    case "mig": {
      const migTypes = Object.entries(types).filter(([, t]) => t.migProfiles !== undefined && t.migProfiles.length > 0 && t.migSlices !== undefined);
      let chosenType = typeName;
      if (chosenType === undefined) {
        if (migTypes.length !== 1 || migTypes[0] === undefined) {
          return reject(
            `with MIG the profile depends on the GPU model: set gpu.type to one of ${migTypes.map(([n]) => n).join(", ") || "(none: the operator config lists no MIG-capable GPU types)"}`,
          );
        }
        chosenType = migTypes[0][0];
        nodeSelector.push({ key: config.productLabel, values: [...migTypes[0][1].products] });
      }
      const t = types[chosenType];
      const slices = t?.migSlices;
      const profiles = t?.migProfiles;
      if (t === undefined || slices === undefined || profiles === undefined || profiles.length === 0) {
        return reject(`gpu.type "${chosenType}" has no MIG profiles in the operator config; MIG-capable types here: ${migTypes.map(([n]) => n).join(", ") || "none"}`);
      }
      const profile = pickMigProfile(profiles, slices, w);
      if (profile === undefined) {
        return reject(
          `no MIG profile of ${chosenType} holds ${describeAsk(w)} (profiles: ${profiles.map((x) => x.name).join(", ")}); use gpu.count for a whole GPU`,
        );
      }
      const resource = `nvidia.com/mig-${profile.name}`;
      return {
        ok: true,
        plan: {
          ...base,
          resources: { [resource]: "1" },
          env: {},
          status: { resource, units: 1, fraction: formatFraction(profile.slices / slices), strategy, profile: profile.name },
        },
      };
    }
    case "hami": {
      const h = config.hami;
      const resources: Record<string, string> = { [h.resourceName]: "1" };
      if (w.split !== undefined) resources[h.coresResource] = String(Math.max(1, Math.floor(100 / w.split)));
      if (w.memory !== undefined) resources[h.memoryResource] = String(Math.ceil(w.memory / 2 ** 20));
      else resources[h.memoryPercentageResource] = String(Math.max(1, Math.floor(100 * fraction)));
      const shown = w.split !== undefined ? 1 / w.split : fraction;
      return {
        ok: true,
        plan: {
          ...base,
          resources,
          env: {},
          status: { resource: h.resourceName, units: 1, fraction: Number.isNaN(shown) ? "1" : formatFraction(shown), strategy },
        },
      };
    }
    default: {
      const never: never = strategy;
      return reject(`unknown GPU strategy ${String(never)}`);
    }
  }
}

function describeAsk(w: Wanted): string {
  const parts: string[] = [];
  if (w.split !== undefined) parts.push(`gpu.split: ${w.split} (1/${w.split} of a GPU)`);
  if (w.memory !== undefined) parts.push(`gpu.memory: ${formatBytes(w.memory)}`);
  return parts.join(" with ") || "one GPU";
}

/** The smallest profile (fewest slices, then least memory) with ≥ 1/split of the slices and ≥ the memory asked. */
export function pickMigProfile(profiles: MigProfile[], totalSlices: number, w: { split?: number; memory?: number }): MigProfile | undefined {
  const fits = profiles.filter((p) => {
    if (w.split !== undefined && p.slices * w.split < totalSlices) return false;
    if (w.memory !== undefined && (parseQuantity(p.memory) ?? 0) < w.memory) return false;
    return true;
  });
  fits.sort((a, b) => a.slices - b.slices || (parseQuantity(a.memory) ?? 0) - (parseQuantity(b.memory) ?? 0));
  return fits[0];
}
