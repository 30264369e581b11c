import { createHmac } from 'node:crypto'

/**
 * Standard Webhooks signatures: `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`,
 * where the key is the base64 part of a `whsec_…` secret. Several signatures, space
 * separated, let receivers verify with either secret during a rotation.
 */
export function signWebhook(secrets: string[], id: string, timestampSeconds: number, body: string): string {
  return secrets
    .map((secret) => {
      const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
      const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')
      return `v1,${mac}`
    })
    .join(' ')
}
