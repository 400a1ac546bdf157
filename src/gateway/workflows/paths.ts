// Item paths: where a value sits inside (nested) fan-outs. `[]` is the run itself, `[3]` item 3
// of the first fan-out, `[3, 0]` item 0 of a fan-out inside item 3.
export type ItemPath = readonly number[];

export function pathKey(path: ItemPath): string {
  return path.join(".");
}

export function parsePath(key: string): number[] {
  return key === "" ? [] : key.split(".").map(Number);
}

/** Every prefix of the path, `[]` first, the path itself last. */
export function prefixes(path: ItemPath): ItemPath[] {
  return Array.from({ length: path.length + 1 }, (_, i) => path.slice(0, i));
}

export function isPrefix(prefix: ItemPath, path: ItemPath): boolean {
  return prefix.length <= path.length && prefix.every((v, i) => path[i] === v);
}

/** Item order: element by element, shorter first. */
export function comparePaths(a: ItemPath, b: ItemPath): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
