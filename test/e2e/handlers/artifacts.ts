// Handlers that read spec.artifacts: artifacts(), the setup context, the task context, and a
// VESSL-shaped runner's loadModel(props, artifacts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { artifacts, type HearthContext, type SetupContext } from "../../../src/runtime/index.ts";

export class ReadsWeights {
  private weights = "";
  private fromSetup: Record<string, string> = {};
  setup(ctx: SetupContext): void {
    this.fromSetup = { ...ctx.artifacts };
    this.weights = readFileSync(join(artifacts()["whisper"] ?? "", "weights.txt"), "utf8");
  }
  predict(_input: unknown, ctx: HearthContext): unknown {
    return { weights: this.weights, setup: this.fromSetup, task: { ...ctx.artifacts } };
  }
}

export class Runner {
  load_model(props: unknown, paths: Record<string, string>): unknown {
    return { props: props ?? null, artifacts: paths, weights: readFileSync(join(paths["whisper"] ?? "", "weights.txt"), "utf8") };
  }
  preprocess_data(x: unknown): unknown {
    return x;
  }
  predict(model: unknown, _data: unknown): unknown {
    return model;
  }
}
