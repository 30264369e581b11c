import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { MigrationList } from '@prisma/schema-engine-wasm/schema_engine_bg'
import { packageRoot } from '../paths.js'
import { withPgClient } from './admin.js'
import { withSchemaEngine } from './schema-engine.js'

export const prismaDir = join(packageRoot, 'prisma')
export const migrationsDir = join(prismaDir, 'migrations')
export const schemaPath = join(prismaDir, 'schema.prisma')

/** Reads prisma/migrations exactly as `prisma migrate deploy` does: one folder per migration, sorted. */
export async function readMigrations(dir = migrationsDir): Promise<MigrationList> {
  const lockfilePath = 'migration_lock.toml'
  const lockfile = await readFile(join(dir, lockfilePath), 'utf8').catch(() => null)
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
  const folders = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name)
  folders.sort((a, b) => a.localeCompare(b))
  const migrationDirectories = await Promise.all(
    folders.map(async (folder) => ({
      path: folder,
      migrationFile: {
        path: 'migration.sql',
        content: await readFile(join(dir, folder, 'migration.sql'), 'utf8').then(
          (value) => ({ tag: 'ok' as const, value }),
          (error: Error) => ({ tag: 'error' as const, value: error.message }),
        ),
      },
    })),
  )
  return {
    baseDir: dir,
    lockfile: { path: lockfilePath, content: lockfile },
    shadowDbInitScript: '',
    migrationDirectories,
  }
}

/** Names of the migrations this build ships, oldest first. */
export async function shippedMigrationNames(dir = migrationsDir): Promise<string[]> {
  return (await readMigrations(dir)).migrationDirectories.map((migration) => migration.path)
}

const noFilters = { externalTables: [], externalEnums: [] }

/**
 * True when `_prisma_migrations` records every migration in `list` as applied, with the
 * checksum of its current file, and no failed attempt: then there is nothing for the schema
 * engine to do, and it is not loaded (its wasm would stay resident, ~50 MB). Anything else,
 * including an unreadable table, is left to the engine to apply or report.
 */
export async function migrationsUpToDate(databaseUrl: string, list: MigrationList): Promise<boolean> {
  const recorded = await withPgClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ name: string; checksum: string; finished: boolean }>(
      `SELECT migration_name AS name, checksum, finished_at IS NOT NULL AS finished
       FROM _prisma_migrations WHERE rolled_back_at IS NULL`,
    )
    return rows
  }).catch(() => null)
  if (!recorded || recorded.some((row) => !row.finished)) return false
  const applied = new Map(recorded.map((row) => [row.name, row.checksum]))
  return list.migrationDirectories.every((migration) => {
    const content = migration.migrationFile.content
    return (
      content.tag === 'ok' &&
      applied.get(migration.path) === createHash('sha256').update(content.value).digest('hex')
    )
  })
}

/**
 * Applies pending migrations and records them in `_prisma_migrations`, as
 * `prisma migrate deploy` does, using the wasm schema engine (works offline).
 */
export async function applyMigrations(databaseUrl: string, dir = migrationsDir): Promise<string[]> {
  const migrationsList = await readMigrations(dir)
  if (await migrationsUpToDate(databaseUrl, migrationsList)) return []
  const datamodel = await readFile(schemaPath, 'utf8')
  return withSchemaEngine(databaseUrl, datamodel, async (engine) => {
    const result = await engine.applyMigrations({ migrationsList, filters: noFilters })
    return result.appliedMigrationNames
  })
}

/** SQL that takes a database shaped by `fromDatamodel` (or empty) to `toDatamodel`. */
export async function diffDatamodels(
  databaseUrl: string,
  fromDatamodel: string | null,
  toDatamodel: string,
): Promise<string> {
  return withSchemaEngine(databaseUrl, toDatamodel, async (engine) => {
    const result = await engine.diff({
      from:
        fromDatamodel === null
          ? { tag: 'empty' }
          : { tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content: fromDatamodel }] },
      to: { tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content: toDatamodel }] },
      script: true,
      exitCode: null,
      filters: noFilters,
    })
    return result.stdout ?? ''
  })
}
