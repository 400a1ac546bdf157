/**
 * Pod annotations that tell the fake kubelet (kwok, driven by the stages in `stages.ts`) how a
 * pod on a fake node behaves. Tests put them in pod templates to choose how a container ends;
 * the real Kubernetes controllers (Job, ReplicaSet, …) then react to the resulting pod status.
 *
 * With none of them a pod becomes Running and Ready and stays so (a warm worker), except pods
 * owned by a batch Job, which complete with exit code 0 after `delay` (so a plain Job finishes).
 */
export const FAKE_POD_ANNOTATIONS = {
  /**
   * `"0"`..`"255"`: once Running, every container terminates with this exit code after `delay`.
   * restartPolicy Never (or OnFailure with 0): the pod ends Succeeded (0) or Failed (non-zero),
   * which is what a Job's `podFailurePolicy.onExitCodes` sees. restartPolicy Always (or OnFailure
   * with non-zero): like a kubelet restarting a crashing container, the pod stays Running, not
   * Ready, containers waiting in `CrashLoopBackOff` with `lastState.terminated` holding the code
   * and `restartCount: 1` (it crashes once; the loop is not replayed).
   */
  exitCode: "hearth.dev/fake-exit-code",
  /** Go duration ("500ms", "2s", "1m") before the exit above or a Job pod's completion. Default 1s. */
  delay: "hearth.dev/fake-delay",
  /** Termination message (`state.terminated.message`) for the exit above. */
  message: "hearth.dev/fake-message",
  /** Termination reason for the exit above. Default `Completed` for 0, `Error` otherwise. */
  reason: "hearth.dev/fake-reason",
  /**
   * `ImagePullBackOff`, `ErrImagePull`, `CrashLoopBackOff`, `CreateContainerConfigError`, …:
   * the pod stays Pending and not Ready, every container waiting with this reason. Wins over all
   * other annotations.
   */
  waitingReason: "hearth.dev/fake-waiting-reason",
  /** Message for the waiting state above (a kubelet-like default is derived from the reason). */
  waitingMessage: "hearth.dev/fake-waiting-message",
  /**
   * Go duration: the pod starts Running but not Ready (like a worker running `setup()`), and
   * turns Ready after this long. With `exitCode` set the pod exits before it is ever Ready.
   */
  readyDelay: "hearth.dev/fake-ready-delay",
  /**
   * `"forever"`: a Job's pod without `exitCode` keeps running instead of completing.
   * `"external"`: the same, because a local runner (dev mode, src/dev/runner.ts) runs the pod's
   * container as a real process and reports how it ended by setting `exitCode`, `message` and
   * `delay` on the pod once it exits.
   */
  run: "hearth.dev/fake-run",
} as const;

export type FakePodAnnotation = (typeof FAKE_POD_ANNOTATIONS)[keyof typeof FAKE_POD_ANNOTATIONS];

/** Value of {@link FAKE_POD_ANNOTATIONS.run} that keeps a Job's pod running. */
export const FAKE_RUN_FOREVER = "forever";
/** Value of {@link FAKE_POD_ANNOTATIONS.run}: a local runner plays the container and reports its exit. */
export const FAKE_RUN_EXTERNAL = "external";

/** Delay used when {@link FAKE_POD_ANNOTATIONS.delay} is absent or unparsable. */
export const DEFAULT_FAKE_DELAY_MS = 1000;

export interface FakePodBehaviour {
  /** Exit code every container ends with. */
  readonly exitCode?: number;
  /** Go duration string, e.g. "2s". */
  readonly delay?: string;
  readonly message?: string;
  readonly reason?: string;
  readonly waitingReason?: string;
  readonly waitingMessage?: string;
  readonly readyDelay?: string;
  readonly runForever?: boolean;
}

/** Annotations for a pod template, e.g. `fakePodAnnotations({exitCode: 3, message: "bad input"})`. */
export function fakePodAnnotations(b: FakePodBehaviour): Record<string, string> {
  const a: Record<string, string> = {};
  if (b.exitCode !== undefined) a[FAKE_POD_ANNOTATIONS.exitCode] = String(b.exitCode);
  if (b.delay !== undefined) a[FAKE_POD_ANNOTATIONS.delay] = b.delay;
  if (b.message !== undefined) a[FAKE_POD_ANNOTATIONS.message] = b.message;
  if (b.reason !== undefined) a[FAKE_POD_ANNOTATIONS.reason] = b.reason;
  if (b.waitingReason !== undefined) a[FAKE_POD_ANNOTATIONS.waitingReason] = b.waitingReason;
  if (b.waitingMessage !== undefined) a[FAKE_POD_ANNOTATIONS.waitingMessage] = b.waitingMessage;
  if (b.readyDelay !== undefined) a[FAKE_POD_ANNOTATIONS.readyDelay] = b.readyDelay;
  if (b.runForever === true) a[FAKE_POD_ANNOTATIONS.run] = FAKE_RUN_FOREVER;
  return a;
}
