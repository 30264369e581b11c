/**
 * The in-process API key cache (src/auth/key-cache.ts) against a real database and the real
 * app: a used key is answered from the cache, yet a revocation written on another connection
 * is refused as soon as its notification arrives; while the LISTEN connection is down every
 * request goes to the database, and changes missed meanwhile cannot survive the reconnect.
 */
import t from 'tap'
import { createApiKey } from '../../src/auth/api-keys.js'
import { createApiKeyVerifier } from '../../src/auth/key-cache.js'
import { withPgClient } from '../../src/db/admin.js'
import { buildTestApp } from '../helpers/app.js'
import { sleep, waitFor } from '../helpers/wait.js'

const { app, runtime, databaseUrl } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })
const prisma = runtime.deps.prisma
t.ok(await app.listenHub.whenListening(5_000), 'the app listens')

const sql = (text: string, values: unknown[] = []) =>
  withPgClient(databaseUrl, async (client) => (await client.query(text, values)).rowCount)

async function usedKey(name: string) {
  const { apiKey, secret } = await createApiKey(prisma, { name, role: 'client' })
  const request = () => app.inject({ url: '/v1/models', headers: { authorization: `Bearer ${secret}` } })
  t.equal((await request()).statusCode, 200, `${name}: first request (from the database)`)
  const hits = app.apiKeys.stats().hits
  t.equal((await request()).statusCode, 200, `${name}: second request`)
  t.equal(app.apiKeys.stats().hits, hits + 1, `${name}: the second request was answered from the cache`)
  return { apiKey, secret, request }
}

/** Up to 2 s for the notification to arrive; a revocation seen only at the TTL would fail. */
async function refused(request: () => Promise<{ statusCode: number }>, what: string) {
  let attempts = 0
  await waitFor(async () => (attempts++, (await request()).statusCode === 401), { timeoutMs: 2_000, what })
  return attempts
}

t.test('a cached key revoked on another connection is refused once the notification arrives', async (t) => {
  const key = await usedKey('revoked elsewhere')
  t.equal(await sql('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [key.apiKey.id]), 1)
  const started = Date.now()
  const attempts = await refused(key.request, 'the revoked key to be refused')
  t.comment(`refused ${Date.now() - started} ms after the revocation committed (request ${attempts})`)
  t.equal(app.apiKeys.stats().size, 0, 'and evicted')
})

t.test('a deleted key is refused too', async (t) => {
  const key = await usedKey('deleted')
  t.equal(await sql('DELETE FROM api_keys WHERE id = $1', [key.apiKey.id]), 1)
  await refused(key.request, 'the deleted key to be refused')
})

t.test('last_used_at writes do not evict', async (t) => {
  const key = await usedKey('busy')
  await sql('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [key.apiKey.id])
  await sleep(200) // a notification, had there been one, would arrive well within this
  const hits = app.apiKeys.stats().hits
  t.equal((await key.request()).statusCode, 200)
  t.equal(app.apiKeys.stats().hits, hits + 1, 'still answered from the cache')
})

t.test('a rotated webhook secret is seen: the cached copy is dropped', async (t) => {
  const key = await usedKey('rotated')
  const rotated = await sql(
    `UPDATE api_keys SET previous_webhook_secret = webhook_secret, webhook_secret = 'whsec_rotated',
       previous_webhook_secret_expires_at = now() + interval '1 hour' WHERE id = $1`,
    [key.apiKey.id],
  )
  t.equal(rotated, 1)
  const seen = await waitFor(
    async () => {
      const check = await app.apiKeys.verify(key.secret)
      return check.ok && check.apiKey.webhookSecret === 'whsec_rotated' && check.apiKey
    },
    { timeoutMs: 2_000, what: 'the new webhook secret' },
  )
  t.equal(seen.previousWebhookSecret, key.apiKey.webhookSecret, 'with the old one kept')
})

t.test(
  'while the LISTEN connection is down the database decides; a reconnect empties the cache',
  async (t) => {
    const revokedWhileDown = await usedKey('revoked while down')
    const other = await usedKey('still valid')
    const killed = await sql(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE application_name = 'poyo-task-service:listen' AND datname = current_database()`,
    )
    t.equal(killed, 1, 'the LISTEN connection is cut')
    await waitFor(() => !app.listenHub.listening, { what: 'the hub to notice' })
    t.equal(app.apiKeys.stats().size, 0, 'the cache empties when the connection is lost')

    // Nobody hears this notification: the database has to be asked.
    await sql('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [revokedWhileDown.apiKey.id])
    const { hits, misses } = app.apiKeys.stats()
    t.equal((await revokedWhileDown.request()).statusCode, 401, 'refused at once')
    t.equal((await other.request()).statusCode, 200)
    t.equal((await other.request()).statusCode, 200)
    if (!app.listenHub.listening) {
      t.same(app.apiKeys.stats(), { size: 0, hits, misses: misses + 3 }, 'every request went to the database')
    } else t.comment('the hub reconnected meanwhile; the cache started empty again')

    t.ok(await app.listenHub.whenListening(5_000), 'the hub reconnects')
    t.equal((await revokedWhileDown.request()).statusCode, 401, 'the missed revocation holds after it')
    const afterReconnect = app.apiKeys.stats()
    t.equal((await other.request()).statusCode, 200)
    t.equal((await other.request()).statusCode, 200)
    t.same(
      app.apiKeys.stats(),
      { size: 1, hits: afterReconnect.hits + 1, misses: afterReconnect.misses + 1 },
      'the cache works again',
    )
  },
)

t.test('entries expire after the TTL; the size is bounded', async (t) => {
  const verifier = createApiKeyVerifier({ prisma, hub: app.listenHub, ttlMs: 100, maxEntries: 2 })
  const keys = await Promise.all(
    ['one', 'two', 'three'].map((name) => createApiKey(prisma, { name, role: 'client' })),
  )
  for (const key of keys) t.ok((await verifier.verify(key.secret)).ok)
  t.equal(verifier.stats().size, 2, 'at most maxEntries')
  const [first, , third] = keys
  await verifier.verify(third?.secret ?? '')
  t.equal(verifier.stats().hits, 1, 'the newest is cached')
  await verifier.verify(first?.secret ?? '')
  t.equal(verifier.stats().misses, 4, 'the oldest was dropped for it')

  await sleep(150)
  const { misses } = verifier.stats()
  t.ok((await verifier.verify(third?.secret ?? '')).ok)
  t.equal(verifier.stats().misses, misses + 1, 'an expired entry is read again')
})

t.test('unknown and malformed tokens are never cached', async (t) => {
  const before = app.apiKeys.stats()
  for (const token of ['not-a-key', `psk_0123456789_${'x'.repeat(32)}`]) {
    t.notOk((await app.apiKeys.verify(token)).ok)
    t.notOk((await app.apiKeys.verify(token)).ok)
  }
  t.equal(app.apiKeys.stats().size, before.size)
  t.equal(app.apiKeys.stats().hits, before.hits)
})
