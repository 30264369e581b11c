import t from 'tap'
import { ConfigError, EnvSchema, loadConfig } from '../../src/config.js'

t.test('defaults apply when nothing is set', async (t) => {
  const config = loadConfig({})
  t.equal(config.PORT, 3000)
  t.equal(config.DATABASE_URL, undefined, 'no DATABASE_URL means the embedded database')
  t.equal(config.MIGRATE_ON_START, true)
  t.equal(config.EMBEDDED_PG_DIR, '.data/postgres')
})

t.test('values are converted from strings and empty strings mean unset', async (t) => {
  const config = loadConfig({ PORT: '8080', MIGRATE_ON_START: 'false', POYO_API_KEY: '', LOG_LEVEL: 'debug' })
  t.equal(config.PORT, 8080)
  t.equal(config.MIGRATE_ON_START, false)
  t.equal(config.POYO_API_KEY, undefined)
  t.equal(config.LOG_LEVEL, 'debug')
})

t.test('every bad variable is named in one error, secrets are not echoed', async (t) => {
  const error = t.throws(() =>
    loadConfig({
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      DATABASE_URL: 'mysql://u:hunter2@x/db',
      MIGRATE_ON_START: 'perhaps',
    }),
  ) as ConfigError
  t.ok(error instanceof ConfigError)
  t.equal(error.problems.length, 4)
  t.match(error.message, /PORT: .*integer.*"eighty"/)
  t.match(error.message, /LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent/)
  t.match(error.message, /DATABASE_URL: /)
  t.match(error.message, /MIGRATE_ON_START: /)
  t.notMatch(error.message, /hunter2/, 'a bad DATABASE_URL is not printed')
})

t.test('production requires a callback token secret', async (t) => {
  t.throws(() => loadConfig({ NODE_ENV: 'production' }), /CALLBACK_TOKEN_SECRET: is required/)
  t.ok(loadConfig({ NODE_ENV: 'production', CALLBACK_TOKEN_SECRET: 'x'.repeat(32) }))
})

t.test('.env.example documents every variable of the schema', async (t) => {
  const { readFile } = await import('node:fs/promises')
  const example = await readFile(new URL('../../.env.example', import.meta.url), 'utf8')
  const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]))
  for (const name of Object.keys(EnvSchema.properties))
    t.ok(documented.has(name), `${name} is in .env.example`)
})
