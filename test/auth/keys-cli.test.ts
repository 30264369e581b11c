/**
 * `npm run keys` (scripts/keys.ts) run as a child process against a fresh database: create
 * prints a key once, list never shows a secret, revoke makes the app answer 401, and
 * rotate-webhook-secret keeps the old secret signing for a grace period.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'

const databaseUrl = await createTestDatabase(t)

/** The environment of a user running the script: ours without the test runner's hooks. */
function cliEnv(migrate: boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (name === 'NODE_OPTIONS' || name.startsWith('TAP') || name.startsWith('NODE_V8_COVERAGE')) continue
    env[name] = value
  }
  return { ...env, DATABASE_URL: databaseUrl, MIGRATE_ON_START: String(migrate) }
}

interface Run {
  code: number | null
  /** From the last byte of output to the process's exit. */
  exitLagMs: number
  stdout: string
  stderr: string
}

/**
 * Runs `scripts/keys.ts ARGS`. Only the first run applies migrations as a user's would (a
 * no-op on the migrated test database, but it costs seconds); the rest skip them.
 */
let firstRun = true
function keys(...args: string[]): Promise<Run> {
  const env = cliEnv(firstRun)
  firstRun = false
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/keys.ts', ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let lastOutput = Date.now()
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      lastOutput = Date.now()
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, exitLagMs: Date.now() - lastOutput, stdout, stderr })
    })
  })
}

const keyPattern = /psk_[a-z0-9]{10}_[A-Za-z0-9_-]{32,}/g
const webhookSecretPattern = /whsec_[A-Za-z0-9+/=]{40,}/g

function created(run: Run) {
  const keys = run.stdout.match(keyPattern) ?? []
  const secrets = run.stdout.match(webhookSecretPattern) ?? []
  const prefix = /prefix ([a-z0-9]{10})\)/.exec(run.stdout)?.[1]
  return { keys, secrets, prefix }
}

// These run before any app touches the database, so no bootstrap admin key exists.
const [x, y, noName] = await Promise.all([
  keys('create', '--name', 'x'),
  keys('create', '--name', 'y', '--admin'),
  keys('create'),
])
const xOut = created(x)
const yOut = created(y)
const xKey = xOut.keys[0] ?? ''
const yKey = yOut.keys[0] ?? ''

// The app reads the same database the CLI writes.
const { app, runtime } = await buildTestApp(t, { WORKERS_ENABLED: 'false' }, { databaseUrl })
const prisma = runtime.deps.prisma

t.test('create prints the key once, with its webhook secret', async (t) => {
  t.equal(x.code, 0, `create --name x exits 0: ${x.stderr}`)
  t.equal(y.code, 0, `create --name y --admin exits 0: ${y.stderr}`)
  // The schema engine used by the migration step leaves a 10 s timer behind; the CLI must not wait for it.
  t.ok(x.exitLagMs < 5_000, `create (with the migration step) exits once done (${x.exitLagMs} ms after)`)
  t.equal(xOut.keys.length, 1, 'exactly one key in the output of create x')
  t.equal(yOut.keys.length, 1, 'exactly one key in the output of create y')
  t.match(x.stdout, /created client key "x"/)
  t.match(y.stdout, /created admin key "y"/)

  const rows = await prisma.apiKey.findMany({ orderBy: { name: 'asc' } })
  t.same(
    rows.map((row) => [row.name, row.role]),
    [
      ['x', 'client'],
      ['y', 'admin'],
    ],
    'two keys stored, with the asked-for roles (and no bootstrap key)',
  )
  t.equal(rows[0]?.prefix, xOut.prefix, 'the printed prefix is the stored one')
  t.equal(rows[0]?.hash, createHash('sha256').update(xKey).digest('hex'), 'the printed key is the hashed one')
  t.same(xOut.secrets, [rows[0]?.webhookSecret], "the key's webhook secret is printed")

  t.equal(
    (await app.inject({ url: '/v1/models', headers: { authorization: `Bearer ${xKey}` } })).statusCode,
    200,
  )
  const asAdmin = await app.inject({ url: '/v1/models', headers: { authorization: `Bearer ${yKey}` } })
  t.equal(asAdmin.statusCode, 200, 'both printed keys authenticate')
})

t.test('list shows prefixes and roles, never a secret', async (t) => {
  // Use one key so last_used_at has something to show.
  await app.inject({ url: '/v1/models', headers: { authorization: `Bearer ${xKey}` } })
  const list = await keys('list')
  t.equal(list.code, 0, list.stderr)
  const rows = await prisma.apiKey.findMany()
  for (const row of rows) {
    t.ok(list.stdout.includes(row.prefix), `the prefix ${row.prefix} is listed`)
    t.ok(list.stdout.includes(row.name), `the name ${row.name} is listed`)
    t.notOk(list.stdout.includes(row.hash), 'the hash is not listed')
    t.notOk(list.stdout.includes(row.webhookSecret), 'the webhook secret is not listed')
  }
  t.match(list.stdout, /\bclient\b/)
  t.match(list.stdout, /\badmin\b/)
  t.same(list.stdout.match(keyPattern), null, 'no key in the listing')
  t.notOk(
    list.stdout.includes(xKey.slice(15)) || list.stdout.includes(yKey.slice(15)),
    'no secret part either',
  )
  t.same(list.stdout.match(/whsec_/g), null, 'no webhook secret')
})

t.test('revoke: the key gets 401 from then on', async (t) => {
  const headers = { authorization: `Bearer ${xKey}` }
  t.equal((await app.inject({ url: '/v1/models', headers })).statusCode, 200, 'works before')
  const { hits } = app.apiKeys.stats()
  t.equal((await app.inject({ url: '/v1/models', headers })).statusCode, 200)
  t.equal(app.apiKeys.stats().hits, hits + 1, 'answered from the key cache before the revocation')
  const [revoke, unknown] = await Promise.all([
    keys('revoke', xOut.prefix ?? ''),
    keys('revoke', 'zzzzzzzzzz'),
  ])
  t.equal(revoke.code, 0, revoke.stderr)
  t.match(revoke.stdout, new RegExp(`revoked key ${xOut.prefix}`))
  const after = await app.inject({ url: '/v1/models', headers })
  t.equal(after.statusCode, 401, 'the revoked key is refused')
  t.equal(after.headers['www-authenticate'], 'Bearer')
  t.ok((await prisma.apiKey.findFirstOrThrow({ where: { prefix: xOut.prefix ?? '' } })).revokedAt)
  const other = await app.inject({ url: '/v1/models', headers: { authorization: `Bearer ${yKey}` } })
  t.equal(other.statusCode, 200, 'the other key still works')

  t.equal(unknown.code, 2, 'an unknown prefix fails')
  t.match(unknown.stderr, /no key with id or prefix zzzzzzzzzz/)
})

t.test('rotate-webhook-secret: a new secret; the old one signs during the grace period', async (t) => {
  const before = await prisma.apiKey.findFirstOrThrow({ where: { prefix: yOut.prefix ?? '' } })
  const started = Date.now()
  const rotate = await keys('rotate-webhook-secret', yOut.prefix ?? '', '--grace-hours', '2')
  t.equal(rotate.code, 0, rotate.stderr)
  const after = await prisma.apiKey.findFirstOrThrow({ where: { id: before.id } })
  t.not(after.webhookSecret, before.webhookSecret, 'a new secret')
  t.match(after.webhookSecret, /^whsec_/)
  t.equal(after.previousWebhookSecret, before.webhookSecret, 'the old one is kept')
  const expires = after.previousWebhookSecretExpiresAt?.getTime() ?? 0
  t.ok(
    expires >= started + 2 * 3_600_000 && expires <= Date.now() + 2 * 3_600_000,
    'until the grace period ends',
  )
  t.same(rotate.stdout.match(webhookSecretPattern), [after.webhookSecret], 'only the new secret is printed')
  t.equal(after.hash, before.hash, 'the API key itself is unchanged')
  const stillWorks = await app.inject({ url: '/v1/models', headers: { authorization: `Bearer ${yKey}` } })
  t.equal(stillWorks.statusCode, 200)
  // The key was cached by the earlier tests' requests; the rotation's notification replaces that copy.
  const seen = await app.apiKeys.verify(yKey)
  t.equal(seen.ok && seen.apiKey.webhookSecret, after.webhookSecret, 'the app sees the new secret')
})

t.test('bad usage exits 2 with the usage line', async (t) => {
  t.equal(noName.code, 2)
  t.match(noName.stderr, /usage: npm run keys/)
  t.equal(await prisma.apiKey.count(), 2, 'nothing created')
})

t.test('--help prints the usage; an unknown option exits 2 with it', async (t) => {
  const help = await keys('--help')
  t.equal(help.code, 0)
  t.match(help.stdout, /usage: npm run keys/)
  const unknown = await keys('create', '--nmae', 'typo')
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /Unknown option '--nmae'[\s\S]*usage: npm run keys/)
  t.notMatch(unknown.stderr, /at checkOptionUsage/, 'no stack trace')
})
