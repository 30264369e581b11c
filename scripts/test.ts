/**
 * `npm test`: one Postgres for the whole run (embedded in a temp dir, or the server
 * named by TEST_DATABASE_URL), one migrated template database, then tap; each test
 * file clones the template (test/helpers/database.ts). Ends with `tests: N passed, N failed`.
 */
import { spawn } from 'node:child_process'
import { appendFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { createDatabase, databaseUrlFor, dropDatabase } from '../src/db/admin.js'
import { startEmbeddedPostgres } from '../src/db/embedded.js'
import { startJobQueue } from '../src/db/job-queue.js'
import { applyMigrations } from '../src/db/migrations.js'
import { createLogger } from '../src/logger.js'
import { createTapCounter } from './lib/tap-count.js'
import { freePort } from './lib/free-port.js'

async function main(): Promise<number> {
  const cleanups: (() => Promise<unknown>)[] = []
  try {
    let serverUrl = process.env.TEST_DATABASE_URL
    if (serverUrl) {
      console.log(`# tests use the Postgres server at ${new URL(serverUrl).host}`)
    } else {
      const dataDir = await mkdtemp(join(tmpdir(), 'poyo-test-pg-'))
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
      const embedded = await startEmbeddedPostgres({ dataDir, port: await freePort(), ephemeral: true })
      cleanups.push(() => embedded.stop())
      serverUrl = embedded.url
      console.log(`# tests use an embedded Postgres in ${dataDir}`)
    }
    const template = `poyo_template_${process.pid}`
    await dropDatabase(serverUrl, template)
    await createDatabase(serverUrl, template)
    cleanups.push(() => dropDatabase(serverUrl, template))
    await applyMigrations(databaseUrlFor(serverUrl, template))
    // pg-boss installs its own schema on first start; do it once here, not in every test file.
    const queue = await startJobQueue(
      databaseUrlFor(serverUrl, template),
      createLogger({ LOG_LEVEL: 'warn' }),
    )
    await queue.stop({ graceful: false, close: true, wait: true })

    const args = process.argv.slice(2)
    const tap = spawn(join('node_modules', '.bin', 'tap'), ['--reporter=tap', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TEST_PG_SERVER_URL: serverUrl, TEST_PG_TEMPLATE: template },
    })
    const counter = createTapCounter()
    const lines = createInterface({ input: tap.stdout })
    lines.on('line', (line) => {
      process.stdout.write(`${line}\n`)
      counter.line(line)
    })
    const exitCode = await new Promise<number>((resolve) => tap.on('close', (code) => resolve(code ?? 1)))
    const { passed, failed, skipped } = counter.result()
    const failedCount = exitCode !== 0 && failed === 0 ? 1 : failed
    console.log(`tests: ${passed} passed, ${failedCount} failed${skipped ? `, ${skipped} skipped` : ''}`)
    if (process.env.TEST_SUMMARY_FILE)
      await appendFile(process.env.TEST_SUMMARY_FILE, `${passed} ${failedCount}\n`)
    return exitCode
  } finally {
    for (const cleanup of cleanups.reverse())
      await cleanup().catch((error) => console.error(`# cleanup: ${error}`))
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
)
