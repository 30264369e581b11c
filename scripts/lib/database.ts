import type { Config } from '../../src/config.js'
import { withPgClient } from '../../src/db/admin.js'
import { embeddedUrl, startEmbeddedPostgres } from '../../src/db/embedded.js'

/**
 * Runs `fn` with the configured database. Without DATABASE_URL that is the embedded one:
 * the running service's, when it is up, otherwise started here (and stopped after).
 */
export async function withConfiguredDatabase<T>(config: Config, fn: (url: string) => Promise<T>): Promise<T> {
  if (config.DATABASE_URL) return fn(config.DATABASE_URL)
  const running = embeddedUrl(config.EMBEDDED_PG_PORT)
  const reachable = await withPgClient(running, async () => true).catch(() => false)
  if (reachable) return fn(running)
  const embedded = await startEmbeddedPostgres({
    dataDir: config.EMBEDDED_PG_DIR,
    port: config.EMBEDDED_PG_PORT,
  })
  console.error(`using the embedded Postgres in ${embedded.dataDir}`)
  try {
    return await fn(embedded.url)
  } finally {
    await embedded.stop()
  }
}
