import { stringify } from "yaml";
import { DEFAULT_FAKE_DELAY_MS, FAKE_POD_ANNOTATIONS as A, FAKE_RUN_EXTERNAL, FAKE_RUN_FOREVER } from "./annotations.ts";

/**
 * kwok `Stage` objects (kwok.x-k8s.io/v1alpha1, checked against kwok v0.7.0's
 * pkg/apis/v1alpha1/stage_types.go) that play the kubelet's part for fake nodes and their pods.
 *
 * Any pod stage given to kwok replaces all of its defaults, so this file ships the whole set.
 * kwok picks at random among stages whose selectors match, so every pod stage is selected by
 * one jq program ({@link POD_STATE_JQ}) that maps a pod to exactly one state name: the stages
 * are mutually exclusive by construction. Each stage moves the pod to a state the program maps
 * elsewhere (or to "none"), so no stage plays twice on the same pod.
 */

export interface KwokStage {
  readonly apiVersion: "kwok.x-k8s.io/v1alpha1";
  readonly kind: "Stage";
  readonly metadata: { readonly name: string };
  readonly spec: {
    readonly resourceRef: { readonly apiGroup: "v1"; readonly kind: "Pod" | "Node" };
    readonly selector: {
      readonly matchExpressions: readonly {
        readonly jq: { readonly key: string; readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; readonly values?: readonly string[] };
      }[];
    };
    readonly delay?: {
      readonly durationMilliseconds?: number;
      readonly durationFrom?: { readonly jq: { readonly expression: string } };
      readonly jitterDurationMilliseconds?: number;
    };
    readonly next: {
      readonly statusTemplate?: string;
      readonly delete?: boolean;
    };
    readonly immediateNextStage?: boolean;
  };
}

/** The pod states {@link POD_STATE_JQ} yields, one stage each ("none" has no stage). */
export const POD_STATES = ["terminate", "delete", "waiting", "start", "exit", "crash", "ready", "complete"] as const;
export type PodState = (typeof POD_STATES)[number];

const jqString = (s: string): string => JSON.stringify(s);
const ann = (key: string): string => `ann(${jqString(key)})`;

/**
 * Classifies a pod (as JSON) into the one stage that should play next. Order matters: deletion
 * first, then the waiting knob, then a fresh pod (no IP yet) starts, then a running pod exits,
 * crashes, turns ready or completes.
 */
export const POD_STATE_JQ = [
  `def ann($k): (.metadata.annotations // {})[$k];`,
  `def terminal: .status.phase == "Succeeded" or .status.phase == "Failed";`,
  `if .metadata.deletionTimestamp != null then (if terminal then "delete" else "terminate" end)`,
  `elif ${ann(A.waitingReason)} != null then (if (.status.podIP // "") == "" then "waiting" else "none" end)`,
  `elif (.status.podIP // "") == "" then "start"`,
  `elif .status.phase != "Running" then "none"`,
  `elif ([.status.containerStatuses[]?.restartCount] | any(. > 0)) then "none"`,
  `elif ${ann(A.exitCode)} != null then`,
  `  (if .spec.restartPolicy == "Never" or (.spec.restartPolicy == "OnFailure" and ${ann(A.exitCode)} == "0")`,
  `   then "exit" else "crash" end)`,
  `elif ${ann(A.readyDelay)} != null and ([.status.conditions[]? | select(.type == "Ready") | .status] | any(. == "False")) then "ready"`,
  `elif ([.metadata.ownerReferences[]?.kind] | any(. == "Job")) and ${ann(A.run)} != ${jqString(FAKE_RUN_FOREVER)} and ${ann(A.run)} != ${jqString(FAKE_RUN_EXTERNAL)} then "complete"`,
  `else "none" end`,
].join("\n");

// Go template fragments (kwok renders statusTemplate with text/template + sprig, over the
// object as JSON, then applies it as a strategic merge patch on the status subresource).
const tpl = (lines: readonly string[]): string => lines.join("\n") + "\n";
const annGo = (key: string): string => `(index $ann ${JSON.stringify(key)})`;
const HEADER = ["{{ $now := Now }}", "{{ $ann := or .metadata.annotations dict }}", "{{ $root := . }}"];

// Conditions merge by type in a strategic merge patch, so a stale reason must be nulled out;
// containerStatuses is an atomic list: every patch below renders it whole.
function condition(type: string, status: "True" | "False", reason?: string): string[] {
  return [`- type: ${type}`, `  status: "${status}"`, `  reason: ${reason ?? "null"}`, `  lastTransitionTime: {{ $now | Quote }}`];
}

const START_TEMPLATE = tpl([
  ...HEADER,
  `{{ $ready := not (hasKey $ann ${JSON.stringify(A.readyDelay)}) }}`,
  `{{ $readyStatus := ternary "True" "False" $ready }}`,
  "conditions:",
  ...condition("Initialized", "True"),
  ...condition("PodReadyToStartContainers", "True"),
  "- type: ContainersReady",
  "  status: {{ $readyStatus | Quote }}",
  "  reason: {{ ternary \"null\" \"ContainersNotReady\" $ready }}",
  "  lastTransitionTime: {{ $now | Quote }}",
  "- type: Ready",
  "  status: {{ $readyStatus | Quote }}",
  "  reason: {{ ternary \"null\" \"ContainersNotReady\" $ready }}",
  "  lastTransitionTime: {{ $now | Quote }}",
  "{{ range .spec.readinessGates }}",
  "- type: {{ .conditionType | Quote }}",
  '  status: "True"',
  "  lastTransitionTime: {{ $now | Quote }}",
  "{{ end }}",
  "containerStatuses:",
  "{{ range .spec.containers }}",
  "- name: {{ .name | Quote }}",
  "  image: {{ .image | Quote }}",
  "  ready: {{ $ready }}",
  "  started: true",
  "  restartCount: 0",
  "  state:",
  "    running:",
  "      startedAt: {{ $now | Quote }}",
  "{{ end }}",
  "initContainerStatuses:",
  "{{ range .spec.initContainers }}",
  "- name: {{ .name | Quote }}",
  "  image: {{ .image | Quote }}",
  "  restartCount: 0",
  '  {{ if eq (or .restartPolicy "") "Always" }}',
  "  ready: true",
  "  started: true",
  "  state:",
  "    running:",
  "      startedAt: {{ $now | Quote }}",
  "  {{ else }}",
  "  ready: true",
  "  state:",
  "    terminated:",
  "      exitCode: 0",
  "      reason: Completed",
  "      startedAt: {{ $now | Quote }}",
  "      finishedAt: {{ $now | Quote }}",
  "  {{ end }}",
  "{{ end }}",
  "hostIP: {{ NodeIPWith .spec.nodeName | Quote }}",
  "podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid \"\" ) ( or .metadata.name \"\" ) ( or .metadata.namespace \"\" ) | Quote }}",
  "phase: Running",
  "startTime: {{ $now | Quote }}",
]);

const WAITING_TEMPLATE = tpl([
  ...HEADER,
  `{{ $reason := ${annGo(A.waitingReason)} }}`,
  `{{ $custom := or ${annGo(A.waitingMessage)} "" }}`,
  `{{ $crashing := eq $reason "CrashLoopBackOff" }}`,
  "conditions:",
  ...condition("Initialized", "True"),
  ...condition("PodReadyToStartContainers", "True"),
  ...condition("ContainersReady", "False", "ContainersNotReady"),
  ...condition("Ready", "False", "ContainersNotReady"),
  "containerStatuses:",
  "{{ range .spec.containers }}",
  "{{ $msg := $custom }}",
  "{{ if not $msg }}",
  '{{ if eq $reason "ImagePullBackOff" }}{{ $msg = printf "Back-off pulling image %q" .image }}',
  '{{ else if eq $reason "ErrImagePull" }}{{ $msg = printf "failed to pull image %q: fake registry error" .image }}',
  '{{ else if $crashing }}{{ $msg = printf "back-off 10s restarting failed container=%s pod=%s_%s" .name $root.metadata.name $root.metadata.namespace }}',
  '{{ else }}{{ $msg = printf "%s (faked by the hearth dev cluster)" $reason }}{{ end }}',
  "{{ end }}",
  "- name: {{ .name | Quote }}",
  "  image: {{ .image | Quote }}",
  "  ready: false",
  "  started: false",
  "  restartCount: {{ ternary 1 0 $crashing }}",
  "  state:",
  "    waiting:",
  "      reason: {{ $reason | Quote }}",
  "      message: {{ $msg | Quote }}",
  "  {{ if $crashing }}",
  "  lastState:",
  "    terminated:",
  "      exitCode: 1",
  "      reason: Error",
  "      startedAt: {{ $now | Quote }}",
  "      finishedAt: {{ $now | Quote }}",
  "  {{ end }}",
  "{{ end }}",
  "hostIP: {{ NodeIPWith .spec.nodeName | Quote }}",
  "podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid \"\" ) ( or .metadata.name \"\" ) ( or .metadata.namespace \"\" ) | Quote }}",
  "phase: {{ ternary \"Running\" \"Pending\" $crashing }}",
  "startTime: {{ $now | Quote }}",
]);

/** Shared by exit and crash: exit code, reason and message from the annotations. */
const EXIT_VARS = [
  `{{ $code := ${annGo(A.exitCode)} | atoi }}`,
  `{{ $reason := or ${annGo(A.reason)} (ternary "Completed" "Error" (eq $code 0)) }}`,
  `{{ $message := or ${annGo(A.message)} "" }}`,
  "{{ $started := or $root.status.startTime $now }}",
];
const TERMINATED_FIELDS = [
  "      exitCode: {{ $code }}",
  "      reason: {{ $reason | Quote }}",
  "      message: {{ $message | Quote }}",
  "      startedAt: {{ $started | Quote }}",
  "      finishedAt: {{ $now | Quote }}",
];

const EXIT_TEMPLATE = tpl([
  ...HEADER,
  ...EXIT_VARS,
  "conditions:",
  ...condition("PodReadyToStartContainers", "False"),
  ...condition("ContainersReady", "False", "PodCompleted"),
  ...condition("Ready", "False", "PodCompleted"),
  "containerStatuses:",
  "{{ range .spec.containers }}",
  "- name: {{ .name | Quote }}",
  "  image: {{ .image | Quote }}",
  "  ready: false",
  "  started: false",
  "  state:",
  "    terminated:",
  ...TERMINATED_FIELDS,
  "{{ end }}",
  "phase: {{ ternary \"Succeeded\" \"Failed\" (eq $code 0) }}",
]);

const CRASH_TEMPLATE = tpl([
  ...HEADER,
  ...EXIT_VARS,
  "conditions:",
  ...condition("ContainersReady", "False", "ContainersNotReady"),
  ...condition("Ready", "False", "ContainersNotReady"),
  "containerStatuses:",
  "{{ range .spec.containers }}",
  "- name: {{ .name | Quote }}",
  "  image: {{ .image | Quote }}",
  "  ready: false",
  "  started: false",
  "  restartCount: 1",
  "  state:",
  "    waiting:",
  "      reason: CrashLoopBackOff",
  '      message: {{ printf "back-off 10s restarting failed container=%s pod=%s_%s" .name $root.metadata.name $root.metadata.namespace | Quote }}',
  "  lastState:",
  "    terminated:",
  ...TERMINATED_FIELDS,
  "{{ end }}",
]);

const READY_TEMPLATE = tpl([
  ...HEADER,
  "conditions:",
  ...condition("ContainersReady", "True"),
  ...condition("Ready", "True"),
  "containerStatuses:",
  "{{ range .status.containerStatuses }}",
  "{{ $started := $now }}{{ with .state.running }}{{ $started = .startedAt }}{{ end }}",
  "- name: {{ .name | Quote }}",
  "  image: {{ .image | Quote }}",
  "  ready: true",
  "  started: true",
  "  restartCount: {{ .restartCount }}",
  "  state:",
  "    running:",
  "      startedAt: {{ $started | Quote }}",
  "{{ end }}",
]);

const COMPLETE_TEMPLATE = tpl([
  ...HEADER,
  "{{ $started := or $root.status.startTime $now }}",
  "conditions:",
  ...condition("PodReadyToStartContainers", "False"),
  ...condition("ContainersReady", "False", "PodCompleted"),
  ...condition("Ready", "False", "PodCompleted"),
  "containerStatuses:",
  "{{ range .spec.containers }}",
  "- name: {{ .name | Quote }}",
  "  image: {{ .image | Quote }}",
  "  ready: false",
  "  started: false",
  "  state:",
  "    terminated:",
  "      exitCode: 0",
  "      reason: Completed",
  "      startedAt: {{ $started | Quote }}",
  "      finishedAt: {{ $now | Quote }}",
  "{{ end }}",
  "phase: Succeeded",
]);

/**
 * A deleted pod that is still running: like the kubelet, stop its containers (SIGTERM, exit 143)
 * and report a terminal phase, so controllers that hold finalizers (the Job controller) account
 * for it and let it go. The delete stage then removes it.
 */
const TERMINATE_TEMPLATE = tpl([
  ...HEADER,
  "{{ $started := or $root.status.startTime $now }}",
  "conditions:",
  ...condition("ContainersReady", "False", "PodCompleted"),
  ...condition("Ready", "False", "PodCompleted"),
  "containerStatuses:",
  "{{ range .spec.containers }}",
  "- name: {{ .name | Quote }}",
  "  image: {{ .image | Quote }}",
  "  ready: false",
  "  started: false",
  "  state:",
  "    terminated:",
  "      exitCode: 143",
  "      reason: Error",
  "      startedAt: {{ $started | Quote }}",
  "      finishedAt: {{ $now | Quote }}",
  "{{ end }}",
  "phase: Failed",
]);

function annotationDelay(key: string, defaultMs: number): NonNullable<KwokStage["spec"]["delay"]> {
  return {
    durationMilliseconds: defaultMs,
    durationFrom: { jq: { expression: `.metadata.annotations[${jqString(key)}]` } },
  };
}

function podStage(state: PodState, next: KwokStage["spec"]["next"], extra: Partial<Pick<KwokStage["spec"], "delay" | "immediateNextStage">> = {}): KwokStage {
  return {
    apiVersion: "kwok.x-k8s.io/v1alpha1",
    kind: "Stage",
    metadata: { name: `hearth-pod-${state}` },
    spec: {
      resourceRef: { apiGroup: "v1", kind: "Pod" },
      selector: { matchExpressions: [{ jq: { key: POD_STATE_JQ, operator: "In", values: [state] } }] },
      ...extra,
      next,
    },
  };
}

/** One stage per {@link PodState}. */
export function podStages(): KwokStage[] {
  const byState: Record<PodState, KwokStage> = {
    terminate: podStage("terminate", { statusTemplate: TERMINATE_TEMPLATE }, { immediateNextStage: true }),
    // No finalizer surgery: controllers that own a finalizer (Job tracking) remove it themselves.
    delete: podStage("delete", { delete: true }),
    waiting: podStage("waiting", { statusTemplate: WAITING_TEMPLATE }),
    start: podStage("start", { statusTemplate: START_TEMPLATE }),
    exit: podStage("exit", { statusTemplate: EXIT_TEMPLATE }, { delay: annotationDelay(A.delay, DEFAULT_FAKE_DELAY_MS) }),
    crash: podStage("crash", { statusTemplate: CRASH_TEMPLATE }, { delay: annotationDelay(A.delay, DEFAULT_FAKE_DELAY_MS) }),
    ready: podStage("ready", { statusTemplate: READY_TEMPLATE }, { delay: annotationDelay(A.readyDelay, 0) }),
    complete: podStage("complete", { statusTemplate: COMPLETE_TEMPLATE }, { delay: annotationDelay(A.delay, DEFAULT_FAKE_DELAY_MS) }),
  };
  return POD_STATES.map((s) => byState[s]);
}

// Node stages: copies of kwok v0.7.0's node-initialize and node-heartbeat-with-lease (the
// defaults when kwok runs with --node-lease-duration-seconds > 0). Exclusive: not-Ready vs Ready.
const NODE_CONDITIONS_TEMPLATE = [
  "conditions:",
  "{{ range NodeConditions }}",
  "- lastHeartbeatTime: {{ $now | Quote }}",
  "  lastTransitionTime: {{ $lastTransitionTime | Quote }}",
  "  message: {{ .message | Quote }}",
  "  reason: {{ .reason | Quote }}",
  "  status: {{ .status | Quote }}",
  "  type: {{ .type | Quote }}",
  "{{ end }}",
  "addresses:",
  "{{ with .status.addresses }}",
  "{{ YAML . 1 }}",
  "{{ else }}",
  "{{ with NodeIP }}",
  "- address: {{ . | Quote }}",
  "  type: InternalIP",
  "{{ end }}",
  "{{ with NodeName }}",
  "- address: {{ . | Quote }}",
  "  type: Hostname",
  "{{ end }}",
  "{{ end }}",
  "{{ with NodePort }}",
  "daemonEndpoints:",
  "  kubeletEndpoint:",
  "    Port: {{ . }}",
  "{{ end }}",
];
const NODE_HEADER = ["{{ $now := Now }}", "{{ $lastTransitionTime := or .metadata.creationTimestamp $now }}"];
const NODE_READY_JQ = '.status.conditions.[] | select( .type == "Ready" ) | .status';

const NODE_INITIALIZE_TEMPLATE = tpl([
  ...NODE_HEADER,
  ...NODE_CONDITIONS_TEMPLATE,
  "allocatable:",
  "{{ with .status.allocatable }}",
  "{{ YAML . 1 }}",
  "{{ else }}",
  "  cpu: 1k",
  "  memory: 1Ti",
  "  pods: 1M",
  "{{ end }}",
  "capacity:",
  "{{ with .status.capacity }}",
  "{{ YAML . 1 }}",
  "{{ else }}",
  "  cpu: 1k",
  "  memory: 1Ti",
  "  pods: 1M",
  "{{ end }}",
  "{{ $nodeInfo := .status.nodeInfo }}",
  '{{ $kwokVersion := printf "kwok-%s" Version }}',
  "nodeInfo:",
  '  architecture: {{ or $nodeInfo.architecture "amd64" }}',
  "  bootID: {{ or $nodeInfo.bootID `\"\"` }}",
  "  containerRuntimeVersion: {{ or $nodeInfo.containerRuntimeVersion $kwokVersion }}",
  "  kernelVersion: {{ or $nodeInfo.kernelVersion $kwokVersion }}",
  "  kubeProxyVersion: {{ or $nodeInfo.kubeProxyVersion $kwokVersion }}",
  "  kubeletVersion: {{ or $nodeInfo.kubeletVersion $kwokVersion }}",
  "  machineID: {{ or $nodeInfo.machineID `\"\"` }}",
  '  operatingSystem: {{ or $nodeInfo.operatingSystem "linux" }}',
  "  osImage: {{ or $nodeInfo.osImage `\"\"` }}",
  "  systemUUID: {{ or $nodeInfo.systemUUID `\"\"` }}",
  "phase: Running",
]);

const NODE_HEARTBEAT_TEMPLATE = tpl([...NODE_HEADER, ...NODE_CONDITIONS_TEMPLATE]);

export function nodeStages(): KwokStage[] {
  const nodeRef = { apiGroup: "v1", kind: "Node" } as const;
  return [
    {
      apiVersion: "kwok.x-k8s.io/v1alpha1",
      kind: "Stage",
      metadata: { name: "hearth-node-initialize" },
      spec: {
        resourceRef: nodeRef,
        selector: { matchExpressions: [{ jq: { key: NODE_READY_JQ, operator: "NotIn", values: ["True"] } }] },
        next: { statusTemplate: NODE_INITIALIZE_TEMPLATE },
      },
    },
    {
      apiVersion: "kwok.x-k8s.io/v1alpha1",
      kind: "Stage",
      metadata: { name: "hearth-node-heartbeat-with-lease" },
      spec: {
        resourceRef: nodeRef,
        selector: {
          matchExpressions: [
            { jq: { key: ".status.phase", operator: "In", values: ["Running"] } },
            { jq: { key: NODE_READY_JQ, operator: "In", values: ["True"] } },
          ],
        },
        delay: { durationMilliseconds: 600_000, jitterDurationMilliseconds: 610_000 },
        next: { statusTemplate: NODE_HEARTBEAT_TEMPLATE },
      },
    },
  ];
}

/** The file given to `kwok --config`: every stage, as a multi-document YAML stream. */
export function renderKwokConfig(stages: readonly KwokStage[] = [...nodeStages(), ...podStages()]): string {
  return stages.map((s) => stringify(s, { lineWidth: 0 })).join("---\n");
}
