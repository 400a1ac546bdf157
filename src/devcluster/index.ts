/**
 * A real local Kubernetes control plane on loopback, with kwok fake GPU nodes: Hearth's dev mode
 * (`hearth dev`) and its integration-test fixture. See docs in CLUSTER.md.
 */
export {
  DEFAULT_FAKE_DELAY_MS,
  FAKE_POD_ANNOTATIONS,
  FAKE_RUN_FOREVER,
  fakePodAnnotations,
  type FakePodAnnotation,
  type FakePodBehaviour,
} from "./annotations.ts";
export { BIN_DIR_ENV, missingBinaries, resolveBinaries, type ResolveBinariesOptions } from "./binaries.ts";
export {
  clusterStatus,
  startDevCluster,
  stopDevCluster,
  type ClusterStatus,
  type ComponentStatus,
  type DevCluster,
  type StartDevClusterOptions,
  type StopOptions,
} from "./cluster.ts";
export {
  createFakeNode,
  DEFAULT_NODES,
  deleteFakeNode,
  fakeNode,
  fakeNodeLabels,
  fakeNodeResources,
  GPU_LABELS,
  GPU_RESOURCES,
  GPU_TAINT,
  migResource,
  NODE_PRESETS,
  parseMigProfile,
  parseNodesFlag,
  removeFakeNodes,
  type FakeNodeSpec,
  type GpuSharingSpec,
  type GpuSharingStrategy,
  type GpuSpec,
  type HamiSpec,
  type MigSpec,
} from "./nodes.ts";
export {
  COMPONENTS,
  DEFAULT_NODE_IP,
  DEFAULT_POD_CIDR,
  DEFAULT_SERVICE_CIDR,
  planCluster,
  validateClusterName,
  type ClusterPlan,
  type ClusterPorts,
  type ComponentName,
  type PlanInput,
} from "./plan.ts";
export { isAlive } from "./process.ts";
export { listClusterStates, readClusterState, writeClusterState, type ClusterState } from "./state.ts";
export { nodeStages, podStages, POD_STATE_JQ, POD_STATES, renderKwokConfig, type KwokStage, type PodState } from "./stages.ts";
