import { stringify } from "yaml";
import { allCrds } from "../../api/crd.ts";

export const summary = "print the CustomResourceDefinitions as YAML";

export async function run(_args: string[]): Promise<number> {
  process.stdout.write(allCrds().map((c) => stringify(c, { lineWidth: 0 })).join("---\n"));
  return 0;
}
