// A minimal protobuf encoder for tests: builds objects by their .proto field numbers, so decoders
// (src/kube/protobuf.ts and its users) can be fed bytes the way the apiserver's encoder writes
// them, edge cases included.
export function varint(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}
export const tag = (field: number, wire: number): number[] => varint(field * 8 + wire);
/** A varint field (negative int32s as 10-byte two's complement, as Go writes them). */
export const vi = (field: number, n: number | bigint): number[] => [...tag(field, 0), ...varint(n)];
export const bytes = (field: number, b: readonly number[]): number[] => [...tag(field, 2), ...varint(b.length), ...b];
export const str = (field: number, s: string): number[] => bytes(field, [...Buffer.from(s, "utf8")]);
export const msg = (field: number, ...parts: number[][]): number[] => bytes(field, parts.flat());
/** A metav1.Time {seconds, nanos} from RFC 3339 text. */
export const time = (field: number, iso: string): number[] => msg(field, vi(1, Date.parse(iso) / 1000), vi(2, 0));
export const entry = (field: number, k: string, v: string): number[] => msg(field, str(1, k), str(2, v));
