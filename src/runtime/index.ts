// What handler code imports from the Node runtime.
export { FatalError, InputRejected } from "./errors.ts";
export type { HearthContext } from "./context.ts";
