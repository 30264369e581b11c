import { performance } from 'node:perf_hooks'
import type { PrismaClient } from '../db/client.js'
import type { ListenHub } from '../db/listen-hub.js'
import type { ApiKey } from '../generated/prisma/client.js'
import { isUuid } from '../ids.js'
import { hashKey, type KeyCheck, verifyApiKey } from './api-keys.js'

/** Changes to a key that matter to its cached copy (see migration `api_key_change_notify`). */
export const apiKeyChangesChannel = 'api_key_changes'

export interface ApiKeyVerifier {
  verify(token: string): Promise<KeyCheck>
  /** For tests and diagnostics: entries held, requests answered from them, database lookups. */
  stats(): { size: number; hits: number; misses: number }
}

export interface VerifierOptions {
  prisma: Pick<PrismaClient, 'apiKey'>
  hub: ListenHub
  ttlMs?: number
  maxEntries?: number
}

/**
 * Verified keys, cached in process under the SHA-256 of the token (never the token), so most
 * requests need no database. A revocation (or any change but `last_used_at`) is NOTIFYed by a
 * trigger and evicts at once; so the cache answers only while the hub is listening, and
 * empties whenever the connection is lost (notifications may be missed until it is back).
 * The TTL bounds what a lost notification could cost; the size bound what memory can.
 */
export function createApiKeyVerifier(options: VerifierOptions): ApiKeyVerifier {
  const { prisma, hub, ttlMs = 60_000, maxEntries = 10_000 } = options
  const entries = new Map<string, { apiKey: ApiKey; expiresAt: number }>()
  // Bumped on every eviction: a lookup that overlapped one must not cache what it read.
  let generation = 0
  let hits = 0
  let misses = 0

  function evict(keyId: string | null) {
    generation += 1
    if (keyId === null) return entries.clear()
    for (const [hash, entry] of entries) if (entry.apiKey.id === keyId) entries.delete(hash)
  }

  hub.subscribe(apiKeyChangesChannel, {
    // Anything but a key id (TRUNCATE sends '*') drops everything.
    notify: (payload) => evict(isUuid(payload) ? payload.toLowerCase() : null),
    reset: () => evict(null),
  })

  return {
    async verify(token) {
      const hash = hashKey(token)
      const now = performance.now()
      const cached = entries.get(hash)
      if (cached && hub.listening && cached.expiresAt > now) {
        hits += 1
        return { ok: true, apiKey: cached.apiKey }
      }
      if (cached) entries.delete(hash)
      misses += 1
      const before = { generation, listening: hub.listening }
      const check = await verifyApiKey(prisma, token)
      if (check.ok && before.listening && hub.listening && before.generation === generation) {
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string)
        entries.set(hash, { apiKey: check.apiKey, expiresAt: now + ttlMs })
      }
      return check
    },
    stats: () => ({ size: entries.size, hits, misses }),
  }
}
