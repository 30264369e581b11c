import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { PrismaClient } from '../db/client.js'
import type { ApiKey } from '../generated/prisma/client.js'
import type { ApiKeyRole } from '../generated/prisma/enums.js'

/**
 * API keys look like `psk_<prefix>_<secret>`. Only a SHA-256 of the whole key is stored;
 * the prefix (shown in listings) finds the row. Keys are random enough (≥ 190 bits) that a
 * fast hash is the right tool: there is nothing to brute-force.
 */
const keyPattern = /^psk_([a-z0-9]{10})_([A-Za-z0-9_-]{32,})$/

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}

function newKey(): { key: string; prefix: string } {
  const prefix = randomBytes(8).toString('hex').slice(0, 10)
  return { key: `psk_${prefix}_${randomBytes(24).toString('base64url')}`, prefix }
}

export interface CreatedKey {
  apiKey: ApiKey
  /** The key itself: shown once, never stored. */
  secret: string
}

export async function createApiKey(
  prisma: Pick<PrismaClient, 'apiKey'>,
  args: { name: string; role: ApiKeyRole },
): Promise<CreatedKey> {
  const { key, prefix } = newKey()
  const apiKey = await prisma.apiKey.create({
    data: { name: args.name, role: args.role, prefix, hash: hashKey(key), webhookSecret: newWebhookSecret() },
  })
  return { apiKey, secret: key }
}

export type KeyCheck = { ok: true; apiKey: ApiKey } | { ok: false; reason: string }

/** Finds the key a bearer token names and checks it; revoked keys fail like unknown ones. */
export async function verifyApiKey(prisma: Pick<PrismaClient, 'apiKey'>, token: string): Promise<KeyCheck> {
  const match = keyPattern.exec(token)
  if (!match?.[1]) return { ok: false, reason: 'The API key is malformed' }
  const apiKey = await prisma.apiKey.findUnique({ where: { prefix: match[1] } })
  const given = Buffer.from(hashKey(token), 'hex')
  const stored = Buffer.from(apiKey?.hash ?? '00'.repeat(32), 'hex')
  if (!apiKey || !timingSafeEqual(given, stored)) return { ok: false, reason: 'The API key is not valid' }
  if (apiKey.revokedAt) return { ok: false, reason: 'The API key has been revoked' }
  return { ok: true, apiKey }
}

/**
 * On a database with no key at all, creates one admin key (dev convenience: the first
 * start prints it once). An advisory lock keeps two instances starting together from both doing it.
 */
export async function bootstrapAdminKey(prisma: PrismaClient): Promise<CreatedKey | null> {
  return prisma.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('poyo:bootstrap-admin-key'))`
    if ((await tx.apiKey.count()) > 0) return null
    return createApiKey(tx, { name: 'bootstrap admin', role: 'admin' })
  })
}
