import { randomFillSync } from 'node:crypto'

// Random bytes are drawn 256 ids at a time (as Node's randomUUID does): one call to the
// CSPRNG each took a measurable part of a callback's CPU, as every status change makes ids.
const randomPool = Buffer.alloc(16 * 256)
let poolOffset = randomPool.length

/** A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits; sorts by creation time. */
export function uuidv7(now = Date.now()): string {
  if (poolOffset === randomPool.length) {
    randomFillSync(randomPool)
    poolOffset = 0
  }
  // Each slice is used once: written over with the time and version bits, then read out.
  const bytes = randomPool.subarray(poolOffset, poolOffset + 16)
  poolOffset += 16
  bytes.writeUIntBE(now, 0, 6)
  bytes[6] = 0x70 | (bytes[6]! & 0x0f)
  bytes[8] = 0x80 | (bytes[8]! & 0x3f)
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Whether `value` is a UUID in its canonical text form (any version, any case). */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value)
}
