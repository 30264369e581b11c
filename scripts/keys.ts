/**
 * `npm run keys -- <command>`: manage API keys.
 *   create --name NAME [--admin]   create a key; its secret is shown once
 *   list                           list keys (prefix, role, created, last used, revoked)
 *   revoke ID_OR_PREFIX            revoke a key (its requests fail with 401 from then on)
 *   rotate-webhook-secret ID_OR_PREFIX [--grace-hours N]
 *                                  new webhook signing secret; the old one keeps signing for N hours (default 24)
 */
import { parseArgs } from 'node:util'
import { createApiKey, newWebhookSecret } from '../src/auth/api-keys.js'
import { loadConfig } from '../src/config.js'
import { createPrismaClient, disconnectPrisma, type PrismaClient } from '../src/db/client.js'
import { applyMigrations } from '../src/db/migrations.js'
import { withConfiguredDatabase } from './lib/database.js'

const usage = `usage: npm run keys -- create --name NAME [--admin] | list | revoke ID_OR_PREFIX | rotate-webhook-secret ID_OR_PREFIX [--grace-hours N]`

function fail(message: string): never {
  console.error(message)
  process.exit(2)
}

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        admin: { type: 'boolean', default: false },
        'grace-hours': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (error) {
    return fail(`${(error as Error).message}\n${usage}`)
  }
}

const { positionals, values } = parseCommandLine()
if (values.help) {
  console.log(usage)
  process.exit(0)
}
const [command, target] = positionals

async function findKey(prisma: PrismaClient, idOrPrefix: string | undefined) {
  if (!idOrPrefix) fail(usage)
  const isUuid = /^[0-9a-f-]{36}$/i.test(idOrPrefix)
  const key = await prisma.apiKey.findFirst({ where: isUuid ? { id: idOrPrefix } : { prefix: idOrPrefix } })
  return key ?? fail(`no key with id or prefix ${idOrPrefix}`)
}

async function run(prisma: PrismaClient): Promise<void> {
  switch (command) {
    case 'create': {
      if (!values.name) fail(usage)
      const { apiKey, secret } = await createApiKey(prisma, {
        name: values.name,
        role: values.admin ? 'admin' : 'client',
      })
      console.log(`created ${apiKey.role} key "${apiKey.name}" (id ${apiKey.id}, prefix ${apiKey.prefix})`)
      console.log(
        `\n  ${secret}\n\nThe key is shown only now; store it. Its webhook signing secret:\n\n  ${apiKey.webhookSecret}\n`,
      )
      return
    }
    case 'list': {
      const keys = await prisma.apiKey.findMany({ orderBy: { createdAt: 'asc' } })
      console.table(
        keys.map((key) => ({
          id: key.id,
          prefix: key.prefix,
          name: key.name,
          role: key.role,
          created: key.createdAt.toISOString(),
          last_used: key.lastUsedAt?.toISOString() ?? '-',
          revoked: key.revokedAt?.toISOString() ?? '-',
        })),
      )
      return
    }
    case 'revoke': {
      const key = await findKey(prisma, target)
      await prisma.apiKey.update({ where: { id: key.id }, data: { revokedAt: key.revokedAt ?? new Date() } })
      console.log(`revoked key ${key.prefix} (${key.name})`)
      return
    }
    case 'rotate-webhook-secret': {
      const key = await findKey(prisma, target)
      const hours = Number(values['grace-hours'] ?? 24)
      if (!Number.isFinite(hours) || hours < 0) fail('--grace-hours must be a number ≥ 0')
      const updated = await prisma.apiKey.update({
        where: { id: key.id },
        data: {
          webhookSecret: newWebhookSecret(),
          previousWebhookSecret: key.webhookSecret,
          previousWebhookSecretExpiresAt: new Date(Date.now() + hours * 3_600_000),
        },
      })
      console.log(
        `new webhook secret for ${key.prefix}; the old one also signs for ${hours} h:\n\n  ${updated.webhookSecret}\n`,
      )
      return
    }
    default:
      fail(usage)
  }
}

const config = loadConfig()
await withConfiguredDatabase(config, async (url) => {
  // Like the server: a fresh database gets its schema first (unless migrations are run by hand).
  if (config.MIGRATE_ON_START) await applyMigrations(url)
  const prisma = createPrismaClient({ url, poolSize: 1 })
  try {
    await run(prisma)
  } finally {
    await disconnectPrisma(prisma)
  }
})
// applyMigrations' wasm schema engine leaves a 10 s timer running, which would hold every
// command for 10 s after its work is done: flush the output and exit now.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()))
process.exit(0)
