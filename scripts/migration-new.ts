/**
 * `npm run db:migration:new -- NAME`: writes prisma/migrations/<timestamp>_NAME/migration.sql
 * with the SQL that takes the schema as of the last migration (read from git) to the
 * current prisma/schema.prisma. Prisma's own `migrate dev` needs a schema-engine binary
 * that cannot be downloaded here; this uses the wasm engine's datamodel diff instead.
 */
import { execFileSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { loadConfig } from '../src/config.js'
import {
  diffDatamodels,
  migrationsDir,
  prismaDir,
  schemaPath,
  shippedMigrationNames,
} from '../src/db/migrations.js'
import { withConfiguredDatabase } from './lib/database.js'

const name = process.argv[2]
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error('usage: npm run db:migration:new -- <name>   (lowercase letters, digits and _)')
  process.exit(2)
}

function git(args: string[], cwd = prismaDir): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim()
}

/** The schema.prisma that the newest migration was written from: the one committed with it. */
function schemaAtLastMigration(last: string | undefined): string | null {
  if (!last) return null
  const top = git(['rev-parse', '--show-toplevel'])
  const commit = git(['log', '-1', '--format=%H', '--', relative(top, join(migrationsDir, last))], top)
  if (!commit) {
    console.error(
      `migration ${last} is not committed yet: commit it together with the schema it was made from`,
    )
    process.exit(1)
  }
  return git(['show', `${commit}:${relative(top, schemaPath)}`], top)
}

const migrations = await shippedMigrationNames()
const previous = schemaAtLastMigration(migrations.at(-1))
const current = await readFile(schemaPath, 'utf8')
const config = loadConfig()
const sql = await withConfiguredDatabase(config, (url) => diffDatamodels(url, previous, current))
if (!sql.trim() || /^-- This is an empty migration\.\s*$/.test(sql.trim())) {
  console.log('schema.prisma has no changes since the last migration; nothing written')
  process.exit(0)
}
const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14)
const folder = join(migrationsDir, `${stamp}_${name}`)
await mkdir(folder, { recursive: true })
await writeFile(join(folder, 'migration.sql'), sql)
console.log(`wrote ${relative(process.cwd(), join(folder, 'migration.sql'))}:\n\n${sql}`)
// The wasm schema engine leaves a timer running for a few seconds: do not wait for it.
process.exit(0)
