// What handler code imports from the Node runtime.
export { FatalError, InputRejected } from "./errors.ts";
export type { HearthContext } from "./context.ts";
export { setupProgress, type SetupContext } from "./setup-progress.ts";
export { artifacts } from "./artifacts.ts";
