// 64-bit fields of the structs that cross the ABI (kvm_run, iocbs, io_events, …) as doubles, without
// BigInt: two little-endian 32-bit halves. Reads give exactly what Number(getBigUint64()) gives (one
// rounding, to nearest, above 2^53); writes of a safe integer store the bytes setBigUint64 and
// setBigInt64 would (negative numbers as two's complement); anything else takes the BigInt path,
// errors included.

const TWO32 = 4294967296;

/** Number(d.getBigUint64(o, true)) */
export function getU64(d: DataView, o: number): number {
  return d.getUint32(o + 4, true) * TWO32 + d.getUint32(o, true);
}

/** Number(d.getBigInt64(o, true)) */
export function getI64(d: DataView, o: number): number {
  return d.getInt32(o + 4, true) * TWO32 + d.getUint32(o, true);
}

/**
 * d.setBigUint64(o, BigInt(v), true), which is also setBigInt64's and asUintN's: the value modulo
 * 2^64 (a negative one as two's complement); a value that is not an integer throws, as there.
 */
export function setU64(d: DataView, o: number, v: number): void {
  if (Number.isSafeInteger(v)) {
    d.setUint32(o, v >>> 0, true);
    d.setUint32(o + 4, Math.floor(v / TWO32) >>> 0, true);
  } else d.setBigUint64(o, BigInt.asUintN(64, BigInt(v)), true);
}
