import { randomBytes } from 'node:crypto'
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { createDatabase, dropDatabase, withPgClient } from '../../src/db/admin.js'
import { createPrismaClient, disconnectPrisma, type PrismaClient } from '../../src/db/client.js'
import { applyMigrations, migrationsDir } from '../../src/db/migrations.js'

/** The Postgres server and migrated template that `npm test` (scripts/test.ts) prepared. */
export function testServer(): { serverUrl: string; template: string } {
  const serverUrl = process.env.TEST_PG_SERVER_URL
  const template = process.env.TEST_PG_TEMPLATE
  if (!serverUrl || !template) {
    throw new Error(
      'run tests through `npm test` (or `npm run test:only -- FILE`): it prepares the database server',
    )
  }
  return { serverUrl, template }
}

/** A fresh database cloned from the migrated template, dropped when the test ends. */
export async function createTestDatabase(t: Test, { migrated = true } = {}): Promise<string> {
  const { serverUrl, template } = testServer()
  const name = `poyo_test_${process.pid}_${randomBytes(4).toString('hex')}`
  const url = await createDatabase(serverUrl, name, migrated ? template : undefined)
  t.teardown(() => dropDatabase(serverUrl, name))
  return url
}

/**
 * A fresh database migrated up to (not including) `migration`, and a client on it: an upgrade
 * test stores data as an older release did, then applies the rest.
 */
export async function databaseBefore(
  t: Test,
  migration: string,
): Promise<{ url: string; prisma: PrismaClient }> {
  const url = await createTestDatabase(t, { migrated: false })
  const before = await mkdtemp(join(tmpdir(), 'migrations-before-'))
  t.teardown(() => rm(before, { recursive: true, force: true }))
  for (const entry of await readdir(migrationsDir)) {
    if (entry < migration) await cp(join(migrationsDir, entry), join(before, entry), { recursive: true })
  }
  await applyMigrations(url, before)
  const prisma = createPrismaClient({ url, poolSize: 2 })
  t.teardown(() => disconnectPrisma(prisma))
  return { url, prisma }
}

/**
 * Makes a test database refuse connections (existing ones are cut), as if its server went
 * away; returns the switch back. The test's teardown switches it back in any case.
 */
export async function refuseConnections(t: Test, databaseUrl: string): Promise<() => Promise<void>> {
  const name = new URL(databaseUrl).pathname.slice(1)
  const { serverUrl } = testServer()
  const setAllowed = (allowed: boolean) =>
    withPgClient(serverUrl, async (client) => {
      await client.query(`ALTER DATABASE ${client.escapeIdentifier(name)} WITH ALLOW_CONNECTIONS ${allowed}`)
      if (!allowed) {
        await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [
          name,
        ])
      }
    })
  await setAllowed(false)
  t.teardown(() => setAllowed(true))
  return () => setAllowed(true)
}
