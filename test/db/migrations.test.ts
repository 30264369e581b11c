import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { withPgClient } from '../../src/db/admin.js'
import {
  applyMigrations,
  diffDatamodels,
  migrationsUpToDate,
  readMigrations,
  migrationsDir,
  schemaPath,
  shippedMigrationNames,
} from '../../src/db/migrations.js'
import { readCatalog } from '../helpers/catalog.js'
import { createTestDatabase } from '../helpers/database.js'

t.test('schema.prisma and prisma/migrations describe the same database (no drift)', async (t) => {
  const fromMigrations = await createTestDatabase(t)
  const fromSchema = await createTestDatabase(t, { migrated: false })
  const sql = await diffDatamodels(fromSchema, null, await readFile(schemaPath, 'utf8'))
  await withPgClient(fromSchema, (client) => client.query(sql))
  const expected = await readCatalog(fromSchema)
  const actual = await readCatalog(fromMigrations)
  t.ok((expected.columns ?? []).length > 10, 'the schema has tables to compare')
  t.same(
    actual,
    expected,
    'a database built from the migrations must equal one built from schema.prisma: run `npm run db:migration:new -- <name>`',
  )
})

t.test('applying migrations records them as `prisma migrate deploy` does, once', async (t) => {
  const url = await createTestDatabase(t, { migrated: false })
  const names = await shippedMigrationNames()
  t.same(await applyMigrations(url), names, 'every shipped migration is applied on an empty database')
  t.same(await applyMigrations(url), [], 'a second run applies nothing')

  const rows = await withPgClient(
    url,
    async (client) =>
      (
        await client.query(
          'SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name',
        )
      ).rows,
  )
  t.equal(rows.length, names.length)
  for (const row of rows) {
    const sql = await readFile(join(migrationsDir, row.migration_name, 'migration.sql'))
    t.equal(
      row.checksum,
      createHash('sha256').update(sql).digest('hex'),
      `${row.migration_name}: checksum of migration.sql`,
    )
    t.ok(row.finished_at, `${row.migration_name}: finished`)
    t.equal(row.rolled_back_at, null)
  }
})

t.test('a failing migration stops and is reported, leaving earlier ones applied', async (t) => {
  const url = await createTestDatabase(t, { migrated: false })
  const { cp, mkdtemp, mkdir, writeFile } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const dir = await mkdtemp(join(tmpdir(), 'migrations-'))
  await cp(migrationsDir, dir, { recursive: true })
  await mkdir(join(dir, '29991231000000_broken'))
  await writeFile(
    join(dir, '29991231000000_broken', 'migration.sql'),
    'ALTER TABLE no_such_table ADD COLUMN x int;',
  )
  await t.rejects(applyMigrations(url, dir), /no_such_table/)
  const applied = await withPgClient(url, async (client) =>
    (
      await client.query(
        'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name',
      )
    ).rows.map((r) => r.migration_name),
  )
  t.same(applied, await shippedMigrationNames())
})

t.test(
  'an up-to-date database is recognised without the schema engine; anything else goes to it',
  async (t) => {
    const url = await createTestDatabase(t, { migrated: false })
    const list = await readMigrations()
    t.equal(await migrationsUpToDate(url, list), false, 'no migrations table yet')
    await applyMigrations(url)
    t.equal(await migrationsUpToDate(url, list), true, 'every migration applied')

    const newer = structuredClone(list)
    newer.migrationDirectories.push({
      path: '29991231000000_next',
      migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: 'SELECT 1;' } },
    })
    t.equal(await migrationsUpToDate(url, newer), false, 'a shipped migration not applied yet')

    const edited = structuredClone(list)
    const first = edited.migrationDirectories[0]!.migrationFile.content
    if (first.tag === 'ok') first.value += '\n-- edited after it was applied'
    t.equal(
      await migrationsUpToDate(url, edited),
      false,
      'a migration whose file changed after it was applied',
    )

    await withPgClient(url, (client) =>
      client.query(
        `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ('failed-attempt', 'x', '29991231000000_broken', now(), 0)`,
      ),
    )
    t.equal(await migrationsUpToDate(url, list), false, 'a failed attempt is for the engine to report')
  },
)
