/** `npm run db:migrate`: applies pending migrations to DATABASE_URL (or the embedded database). */
import { loadConfig } from '../src/config.js'
import { applyMigrations } from '../src/db/migrations.js'
import { withConfiguredDatabase } from './lib/database.js'

const config = loadConfig()
const applied = await withConfiguredDatabase(config, (url) => applyMigrations(url))
console.log(
  applied.length ? `applied:\n${applied.map((name) => `  ${name}`).join('\n')}` : 'no pending migrations',
)
// The wasm schema engine leaves a timer running for a few seconds: do not wait for it.
process.exit(0)
