// Loads `module:attr` and adapts the three handler shapes (docs/protocol.md) to one interface:
// - a class with `setup()` (optional) and `predict(...)`: one instance per process;
// - a plain function (sync or async): called per task;
// - a runner class (VESSL's RunnerBase shape) with `load_model()`, `preprocess_data(x)`,
//   `predict(x)` and `postprocess_data(y)` (camelCase spellings too): `load_model()` is the setup
//   and each call is `postprocess_data(predict(preprocess_data(input)))`.
import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { bind, planFor, type BindPlan } from "./binding.ts";
import type { HearthContext } from "./context.ts";
import type { SetupContext } from "./setup-progress.ts";
import { artifacts } from "./artifacts.ts";
import { HandlerConfigError, isFatalError } from "./errors.ts";
import { paramsOf } from "./params.ts";

export type HandlerKind = "class" | "function" | "runner";

export interface Handler {
  readonly kind: HandlerKind;
  readonly name: string;
  /** Runs the user's setup once (passing it `ctx`); rejects with whatever it throws. */
  setup(ctx?: SetupContext): Promise<void>;
  /** One task. Throws BindError for input that does not fit, or whatever user code throws. */
  call(input: unknown, ctx: HearthContext): Promise<unknown>;
  /** What the reported signature is made of (src/runtime/signature.ts); complete after setup(). */
  inputShape(): InputShape;
}

/** The input parameters (undefined: not knowable, e.g. a runner's whole-input data) and the exported value. */
export interface InputShape {
  readonly plan: BindPlan | undefined;
  readonly fn: AnyFunction | undefined;
  readonly target: unknown;
}

type AnyFunction = (...args: unknown[]) => unknown;

export interface HandlerSpec {
  readonly module: string;
  readonly attr: string;
}

export function parseHandlerSpec(spec: string): HandlerSpec {
  const parts = spec.split(":");
  const module = parts[0]?.trim() ?? "";
  const attr = parts[1]?.trim() ?? "";
  if (parts.length !== 2 || module === "" || attr === "") {
    throw new HandlerConfigError(`handler must be "module:attr", e.g. app.model:Whisper (got ${JSON.stringify(spec)})`);
  }
  return { module, attr };
}

const EXTENSIONS = ["", ".ts", ".mts", ".js", ".mjs", ".cjs", "/index.ts", "/index.js", "/index.mjs"];

/**
 * Where `module` lives: a file under one of `roots` (dots or slashes as separators, with or
 * without extension), else a package resolvable from the first root. undefined: nowhere.
 */
export function resolveModule(module: string, roots: readonly string[]): string | undefined {
  const stems = new Set([module, module.replaceAll(".", "/")]);
  // "app.model.ts" should not become "app/model/ts".
  for (const ext of [".ts", ".mts", ".js", ".mjs", ".cjs"]) {
    if (module.endsWith(ext)) stems.add(module.slice(0, -ext.length).replaceAll(".", "/") + ext);
  }
  for (const root of roots) {
    for (const stem of stems) {
      for (const ext of EXTENSIONS) {
        const path = isAbsolute(stem) ? stem + ext : resolve(root, stem + ext);
        if (existsSync(path) && statSync(path).isFile()) return path;
      }
    }
  }
  const base = roots[0] ?? process.cwd();
  try {
    return createRequire(join(base, "__hearth_resolve__.js")).resolve(module);
  } catch {
    return undefined;
  }
}

/** Imports the handler. Throws HandlerConfigError; a FatalError thrown while importing propagates. */
export async function loadHandler(spec: string, roots: readonly string[]): Promise<Handler> {
  const { module, attr } = parseHandlerSpec(spec);
  const path = resolveModule(module, roots);
  if (path === undefined) {
    throw new HandlerConfigError(`cannot import handler module "${module}": no such module (searched ${roots.join(", ")})`);
  }
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    if (isFatalError(err)) throw err;
    throw new HandlerConfigError(`cannot import handler module "${module}" (${path}): ${describeError(err)}`, { cause: err });
  }
  let target: unknown = exports;
  for (const part of attr.split(".")) {
    if (typeof target !== "object" && typeof target !== "function") target = undefined;
    const next: unknown = target === null || target === undefined ? undefined : (target as Record<string, unknown>)[part];
    if (next === undefined) throw new HandlerConfigError(`module "${module}" has no export "${attr}"`);
    target = next;
  }
  return adapt(target, `${module}:${attr}`);
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

const RUNNER_METHODS = ["load_model", "loadModel", "preprocess_data", "preprocessData", "postprocess_data", "postprocessData"];

function isClass(fn: AnyFunction): boolean {
  const proto: unknown = fn.prototype;
  return /^class\b/.test(Function.prototype.toString.call(fn)) || (typeof proto === "object" && proto !== null && typeof (proto as Record<string, unknown>)["predict"] === "function");
}

function method(obj: unknown, ...names: string[]): AnyFunction | undefined {
  if (typeof obj !== "object" || obj === null) return undefined;
  for (const name of names) {
    const fn = (obj as Record<string, unknown>)[name];
    if (typeof fn === "function") return (fn as AnyFunction).bind(obj);
  }
  return undefined;
}

function rawMethod(obj: unknown, name: string): AnyFunction | undefined {
  if (typeof obj !== "object" || obj === null) return undefined;
  const fn = (obj as Record<string, unknown>)[name];
  return typeof fn === "function" ? (fn as AnyFunction) : undefined;
}

/** Chooses the shape of an imported value. */
export function adapt(target: unknown, name: string): Handler {
  if (typeof target === "function") {
    const fn = target as AnyFunction;
    if (isClass(fn)) {
      const proto: unknown = fn.prototype;
      if (rawMethod(proto, "predict") === undefined) throw new HandlerConfigError(`${name} is a class without a predict() method`);
      const ctor = fn as unknown as new () => unknown;
      if (RUNNER_METHODS.some((m) => rawMethod(proto, m) !== undefined)) return new RunnerHandler(() => new ctor(), name, fn);
      return new ClassHandler(() => new ctor(), name, fn);
    }
    return new FunctionHandler(fn, name);
  }
  if (typeof target === "object" && target !== null && rawMethod(target, "predict") !== undefined) {
    if (RUNNER_METHODS.some((m) => rawMethod(target, m) !== undefined)) return new RunnerHandler(() => target, name, target);
    return new ClassHandler(() => target, name, target);
  }
  throw new HandlerConfigError(`${name} is ${target === null ? "null" : `a ${typeof target}`}, not a class, an object with predict(), or a function`);
}

class FunctionHandler implements Handler {
  readonly kind = "function";
  readonly name: string;
  private readonly fn: AnyFunction;
  private readonly plan: BindPlan;

  constructor(fn: AnyFunction, name: string) {
    this.fn = fn;
    this.name = name;
    this.plan = planFor(paramsOf(fn));
  }

  async setup(): Promise<void> {}

  async call(input: unknown, ctx: HearthContext): Promise<unknown> {
    return this.fn(...bind(this.plan, input, ctx));
  }

  inputShape(): InputShape {
    return { plan: this.plan, fn: this.fn, target: this.fn };
  }
}

class ClassHandler implements Handler {
  readonly kind = "class";
  readonly name: string;
  private readonly create: () => unknown;
  private predict: { fn: AnyFunction; raw: AnyFunction; plan: BindPlan } | undefined;
  private readonly target: unknown;

  constructor(create: () => unknown, name: string, target?: unknown) {
    this.create = create;
    this.name = name;
    this.target = target;
  }

  inputShape(): InputShape {
    return { plan: this.predict?.plan, fn: this.predict?.raw, target: this.target };
  }

  async setup(ctx?: SetupContext): Promise<void> {
    const instance = this.create();
    const predict = method(instance, "predict");
    const raw = rawMethod(instance, "predict");
    if (predict === undefined || raw === undefined) throw new HandlerConfigError(`${this.name} has no predict() method`);
    const setup = method(instance, "setup");
    if (setup !== undefined) await setup(ctx);
    this.predict = { fn: predict, raw, plan: planFor(paramsOf(raw)) };
  }

  async call(input: unknown, ctx: HearthContext): Promise<unknown> {
    if (this.predict === undefined) throw new Error("call() before setup()");
    return this.predict.fn(...bind(this.predict.plan, input, ctx));
  }
}

class RunnerHandler implements Handler {
  readonly kind = "runner";
  readonly name: string;
  private readonly create: () => unknown;
  private state: { runner: unknown; model: unknown; takesModel: boolean; contextIndex: number | undefined } | undefined;
  private readonly target: unknown;

  constructor(create: () => unknown, name: string, target?: unknown) {
    this.create = create;
    this.name = name;
    this.target = target;
  }

  inputShape(): InputShape {
    // preprocess_data takes the whole input: no parameter names to report.
    return { plan: undefined, fn: undefined, target: this.target };
  }

  async setup(): Promise<void> {
    const runner = this.create();
    const predict = rawMethod(runner, "predict");
    if (predict === undefined) throw new HandlerConfigError(`${this.name} has no predict() method`);
    const plan = planFor(paramsOf(predict));
    const arity = plan.params === undefined ? 1 : plan.inputs.filter((i) => !i.param.rest).length;
    if (arity !== 1 && arity !== 2) {
      throw new HandlerConfigError(`${this.name}.predict must take (data) or (model, data), it takes ${arity} parameters`);
    }
    const loadModel = method(runner, "load_model", "loadModel");
    // VESSL's load_model(props, artifacts): no saved props; the Function's artifacts by name.
    const model = loadModel === undefined ? undefined : await loadModel(undefined, artifacts());
    this.state = { runner, model, takesModel: arity === 2, contextIndex: plan.contextIndex };
  }

  async call(input: unknown, ctx: HearthContext): Promise<unknown> {
    const s = this.state;
    if (s === undefined) throw new Error("call() before setup()");
    const pre = method(s.runner, "preprocess_data", "preprocessData");
    const post = method(s.runner, "postprocess_data", "postprocessData");
    const predict = method(s.runner, "predict");
    if (predict === undefined) throw new HandlerConfigError(`${this.name} has no predict() method`);
    const data = pre === undefined ? input : await pre(input);
    const args: unknown[] = s.takesModel ? [s.model, data] : [data];
    if (s.contextIndex !== undefined) args[s.contextIndex] = ctx;
    else args.push(ctx);
    const result = await predict(...args);
    return post === undefined ? result : post(result);
  }
}
