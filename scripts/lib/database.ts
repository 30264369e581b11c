import type { Config } from '../../src/config.js'
import { startEmbeddedPostgres } from '../../src/db/embedded.js'

/** Runs `fn` with the configured database, starting the embedded one (and stopping it after) when unset. */
export async function withConfiguredDatabase<T>(config: Config, fn: (url: string) => Promise<T>): Promise<T> {
  if (config.DATABASE_URL) return fn(config.DATABASE_URL)
  const embedded = await startEmbeddedPostgres({
    dataDir: config.EMBEDDED_PG_DIR,
    port: config.EMBEDDED_PG_PORT,
  })
  console.log(`using the embedded Postgres in ${embedded.dataDir}`)
  try {
    return await fn(embedded.url)
  } finally {
    await embedded.stop()
  }
}
