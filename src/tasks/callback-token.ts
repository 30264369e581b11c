import { createHmac, timingSafeEqual } from 'node:crypto'

/** The per-task token in PoYo's callback URL: HMAC(secret, task id), so a URL is good for one task only. */
export function callbackToken(secret: string, taskId: string): string {
  return createHmac('sha256', secret).update(`poyo-callback:${taskId}`).digest('base64url')
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
