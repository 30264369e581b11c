import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto'

// The secret as a key object, made once: from a string, createHmac imports the key again at
// every call, a third of its cost (every callback verifies a token).
let lastKey: { secret: string; key: KeyObject } | undefined
function keyOf(secret: string): KeyObject {
  if (lastKey?.secret !== secret) lastKey = { secret, key: createSecretKey(Buffer.from(secret)) }
  return lastKey.key
}

/** The per-task token in PoYo's callback URL: HMAC(secret, task id), so a URL is good for one task only. */
export function callbackToken(secret: string, taskId: string): string {
  return createHmac('sha256', keyOf(secret)).update(`poyo-callback:${taskId}`).digest('base64url')
}

export function verifyCallbackToken(secret: string, taskId: string, token: unknown): boolean {
  if (typeof token !== 'string') return false
  const expected = Buffer.from(callbackToken(secret, taskId))
  const given = Buffer.from(token)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

export function callbackUrl(publicUrl: string, secret: string, taskId: string): string {
  const base = publicUrl.replace(/\/+$/, '')
  return `${base}/v1/callbacks/poyo/${taskId}?token=${callbackToken(secret, taskId)}`
}
