import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * PoYo's callback signature: base64(HMAC-SHA256(secret, `${taskId}.${timestamp}`)).
 * It does not cover the body, so a verified callback still only says "PoYo has news about this
 * task"; confirm files and status with the status endpoint.
 */
export function signPoyoCallback(secret: string, taskId: string, timestampSeconds: number | string): string {
  return createHmac('sha256', secret).update(`${taskId}.${timestampSeconds}`).digest('base64')
}

export interface VerifyPoyoCallbackArgs {
  secret: string
  taskId: string
  timestampHeader: string | string[] | undefined
  signatureHeader: string | string[] | undefined
  nowSeconds: number
  toleranceSeconds?: number
}

export type VerifyResult = { ok: true } | { ok: false; reason: string }

function single(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? (header.length === 1 ? header[0] : undefined) : header
}

export function verifyPoyoCallback(args: VerifyPoyoCallbackArgs): VerifyResult {
  const tolerance = args.toleranceSeconds ?? 300
  const timestamp = single(args.timestampHeader)?.trim()
  const signature = single(args.signatureHeader)?.trim()
  if (!timestamp) return { ok: false, reason: 'missing X-Webhook-Timestamp' }
  if (!signature) return { ok: false, reason: 'missing X-Webhook-Signature' }
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'X-Webhook-Timestamp is not unix seconds' }
  const skew = Number(timestamp) - args.nowSeconds
  // Both directions: an old timestamp is a replay, a future one a forged or badly skewed clock.
  if (Math.abs(skew) > tolerance) {
    return { ok: false, reason: `X-Webhook-Timestamp is ${Math.abs(skew)} s ${skew < 0 ? 'old' : 'ahead'}` }
  }
  const expected = Buffer.from(signPoyoCallback(args.secret, args.taskId, timestamp), 'utf8')
  const given = Buffer.from(signature, 'utf8')
  // timingSafeEqual throws on unequal lengths; a length mismatch is simply a bad signature.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'signature mismatch' }
  }
  return { ok: true }
}
