/**
 * Webhooks never go to private, loopback or otherwise reserved addresses unless configured
 * to (issue #6): the address table, the URL shape rules, the check when a task is created
 * (over HTTP), and the check again at delivery time, including a host that resolves to a
 * public address first and to loopback when the connection is made (DNS rebinding).
 *
 * No traffic may leave the machine: every TCP/TLS connect made in this process is recorded,
 * and one to an address this file names is refused before it starts. Receivers listen on
 * 127.0.0.1 only.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module'
import t from 'tap'
import { systemClock } from '../../src/clock.js'
import { attemptDelivery, type DeliveryDeps } from '../../src/webhooks/deliver.js'
import { webhookUrlPolicy } from '../../src/webhooks/policy.js'
import { createWebhookSender } from '../../src/webhooks/sender.js'
import { checkWebhookUrl, checkWebhookUrlShape, isBlockedAddress } from '../../src/webhooks/ssrf.js'
import { buildTestApp } from '../helpers/app.js'
import { startReceiver } from '../helpers/webhook-receiver.js'

const require = createRequire(import.meta.url)

// --- the network guard ---------------------------------------------------------------------
type Connect = (...args: unknown[]) => unknown
const net = require('node:net') as { connect: Connect; createConnection: Connect }
const tls = require('node:tls') as { connect: Connect }
const forbidden = ['10.0.0.1', '169.254.169.254', 'fd00:ec2::254', '93.184.216.34', '[fd00:ec2::254]']
const connects: string[] = []
function guarded(real: Connect): Connect {
  return (...args) => {
    const first = args[0]
    const host = typeof first === 'object' && first ? (first as { host?: string }).host : args[1]
    connects.push(String(host ?? 'localhost'))
    if (forbidden.includes(String(host))) throw new Error(`test guard: refused a connection to ${host}`)
    return real(...args)
  }
}
const real = { netConnect: net.connect, netCreateConnection: net.createConnection, tlsConnect: tls.connect }
net.connect = guarded(real.netConnect)
net.createConnection = guarded(real.netCreateConnection)
tls.connect = guarded(real.tlsConnect)
t.teardown(() => {
  net.connect = real.netConnect
  net.createConnection = real.netCreateConnection
  tls.connect = real.tlsConnect
})

// --- a host that rebinds: public on the first lookup, loopback afterwards ---------------------
type Lookup = (host: string, options?: { all?: boolean }) => Promise<unknown>
const dnsPromises = require('node:dns/promises') as { lookup: Lookup }
const realLookup = dnsPromises.lookup
const rebindHost = 'rebind.test'
let rebindLookups = 0
dnsPromises.lookup = async (host, options) => {
  if (host !== rebindHost) return realLookup(host, options)
  rebindLookups++
  const address = rebindLookups === 1 ? '93.184.216.34' : '127.0.0.1'
  return options?.all ? [{ address, family: 4 }] : { address, family: 4 }
}
syncBuiltinESMExports()
t.teardown(() => {
  dnsPromises.lookup = realLookup
  syncBuiltinESMExports()
})

// The app with the production default: private targets refused. No workers, so nothing is
// ever submitted or delivered (the public control task below must never be sent anywhere).
const { app, runtime } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })
const prisma = runtime.deps.prisma

const admin = await prisma.apiKey.findFirstOrThrow({ where: { role: 'admin' } })

// -------------------------------------------------------------------------------------------

t.test('isBlockedAddress', async (t) => {
  const blocked = [
    '127.0.0.1',
    '127.255.0.9',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    'fe80::1',
    'fc00::1',
    'fd00:ec2::254',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    // How URLs spell IPv4-mapped addresses: new URL('http://[::ffff:127.0.0.1]/').hostname
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '::127.0.0.1',
    '::a00:1',
    '2002:a00:1::1',
    '64:ff9b:1::a00:1',
    'not an address',
  ]
  for (const address of blocked) t.equal(isBlockedAddress(address), true, `${address} is blocked`)
  for (const address of [
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1',
    '2606:4700::1111',
    '::ffff:93.184.216.34',
  ]) {
    t.equal(isBlockedAddress(address), false, `${address} is allowed`)
  }
})

t.test('checkWebhookUrlShape', async (t) => {
  const production = webhookUrlPolicy({ NODE_ENV: 'production', WEBHOOK_ALLOW_PRIVATE: false })
  const development = webhookUrlPolicy({ NODE_ENV: 'development', WEBHOOK_ALLOW_PRIVATE: false })
  t.same(production, { allowPrivate: false, requireHttps: true }, 'production requires https')
  t.same(development, { allowPrivate: false, requireHttps: false })
  t.same(webhookUrlPolicy({ NODE_ENV: 'development', WEBHOOK_ALLOW_PRIVATE: true }).allowPrivate, true)

  t.match(checkWebhookUrlShape('http://hooks.example.com/x', production), { ok: false, reason: /https/ })
  t.match(checkWebhookUrlShape('https://hooks.example.com/x', production), { ok: true })
  t.match(checkWebhookUrlShape('http://hooks.example.com/x', development), { ok: true })
  t.match(checkWebhookUrlShape('ftp://hooks.example.com/x', development), { ok: false, reason: /http/ })
  t.match(checkWebhookUrlShape('/hooks/x', development), { ok: false, reason: /absolute/ })
  t.match(checkWebhookUrlShape('hooks.example.com/x', development), { ok: false })
  t.match(checkWebhookUrlShape('https://user:secret@hooks.example.com/x', production), {
    ok: false,
    reason: /credentials/,
  })
})

t.test('checkWebhookUrl refuses a private target, without a connection', async (t) => {
  const policy = { allowPrivate: false, requireHttps: false }
  const before = connects.length
  t.match(await checkWebhookUrl('http://127.0.0.1:8080/x', policy), { ok: false, reason: /127\.0\.0\.1/ })
  t.match(await checkWebhookUrl('http://[::ffff:10.0.0.1]/x', policy), { ok: false, reason: /private/ })
  t.match(await checkWebhookUrl('http://127.0.0.1:8080/x', { ...policy, allowPrivate: true }), { ok: true })
  t.equal(connects.length, before, 'no connection was attempted')
})

t.test('POST /v1/tasks refuses private, loopback and malformed webhook URLs', async (t) => {
  const refused = [
    'http://127.0.0.1/x',
    'http://10.0.0.1/x',
    'http://169.254.169.254/latest',
    'http://[::1]/x',
    'http://[fd00:ec2::254]/latest',
    'http://[::ffff:127.0.0.1]/x',
    'http://0x7f000001/x', // 127.0.0.1 in another spelling
    'http://localhost/x', // a hostname resolving to loopback
    'ftp://files.example.com/x',
    '/relative/hook',
    'https://user:secret@hooks.example.com/x',
  ]
  const tasksBefore = await prisma.task.count()
  const connectsBefore = connects.length
  for (const url of refused) {
    const started = Date.now()
    const response = await app.inject({
      method: 'POST',
      url: '/v1/tasks',
      payload: { model: 'kling-3.0/standard', input: { prompt: 'p', duration: 5 }, webhook_url: url },
    })
    t.equal(response.statusCode, 400, `${url} is refused`)
    t.match(response.headers['content-type'], /^application\/problem\+json/)
    const errors = response.json().errors as { pointer?: string; detail: string }[]
    t.same(
      errors.map((e) => e.pointer),
      ['/webhook_url'],
      `${url}: the problem points at /webhook_url (${errors.map((e) => e.detail).join('; ')})`,
    )
    t.ok(Date.now() - started < 2_000, `${url}: answered at once`)
  }
  t.equal(await prisma.task.count(), tasksBefore, 'no task was stored')
  t.equal(connects.length, connectsBefore, 'no connection was attempted')

  // Control: a public address is accepted (never contacted: no workers run here).
  const accepted = await app.inject({
    method: 'POST',
    url: '/v1/tasks',
    payload: {
      model: 'kling-3.0/standard',
      input: { prompt: 'p', duration: 5 },
      webhook_url: 'https://93.184.216.34/hook',
    },
  })
  t.equal(accepted.statusCode, 202, accepted.body)
})

// --- delivery time ---------------------------------------------------------------------------

/** A finished task and a pending delivery to `url`, inserted directly (the create-time check is skipped). */
async function deliveryTo(url: string): Promise<string> {
  const now = new Date()
  const task = await prisma.task.create({
    data: {
      apiKeyId: admin.id,
      clientScope: admin.id,
      model: 'kling-3.0/standard',
      status: 'finished',
      input: { prompt: 'p', duration: 5 },
      estimatedCredits: 195,
      webhookUrl: url,
      webhookEvents: ['finished'],
      deadlineAt: new Date(now.getTime() + 3_600_000),
    },
  })
  const delivery = await prisma.webhookDelivery.create({
    data: { taskId: task.id, event: 'finished', url, payload: { id: task.id }, nextAttemptAt: null },
  })
  return delivery.id
}

// One sender per policy, as a process has one: its connections are kept between attempts.
const senders = new Map(
  [false, true].map((allowPrivate) => [
    allowPrivate,
    createWebhookSender({
      policy: { allowPrivate, requireHttps: false },
      timeoutMs: 500,
      clock: systemClock,
    }),
  ]),
)
t.teardown(() => Promise.all([...senders.values()].map((sender) => sender.close())))

const deps = (allowPrivate: boolean): DeliveryDeps => ({
  prisma,
  clock: systemClock,
  logger: runtime.deps.logger,
  sender: senders.get(allowPrivate)!,
})

const attemptsOf = (deliveryId: string) =>
  prisma.webhookAttempt.findMany({ where: { deliveryId }, orderBy: { number: 'asc' } })

t.test('a host that now resolves to loopback gets nothing (checked again at delivery)', async (t) => {
  const receiver = await startReceiver(t)
  const deliveryId = await deliveryTo(`http://localhost:${receiver.port}/hook`)

  const connectsBefore = connects.length
  const started = Date.now()
  await attemptDelivery(deps(false), deliveryId)
  t.ok(Date.now() - started < 500, 'refused before any network wait')
  t.equal(connects.length, connectsBefore, 'no connection was attempted')
  t.equal(receiver.received.length, 0, 'the receiver got nothing')
  const [attempt] = await attemptsOf(deliveryId)
  t.match(attempt, { number: 1, httpStatus: null, error: /localhost resolves to 127\.0\.0\.1, a private/ })
  const delivery = await prisma.webhookDelivery.findUniqueOrThrow({ where: { id: deliveryId } })
  t.equal(delivery.status, 'pending', 'retried on the schedule like any failure')

  // Control: the same delivery with private targets allowed reaches the receiver, by name.
  await attemptDelivery(deps(true), deliveryId)
  t.equal(receiver.received.length, 1, 'allowed, the receiver gets it')
  const attempts = await attemptsOf(deliveryId)
  t.match(attempts[1], { number: 2, httpStatus: 200, error: null }, `${attempts[1]?.error}`)
})

t.test('private IP literals are refused at delivery without a connection', async (t) => {
  for (const [url, address] of [
    ['http://10.0.0.1/x', '10.0.0.1'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['http://[fd00:ec2::254]/latest', 'fd00:ec2::254'],
  ] as const) {
    const deliveryId = await deliveryTo(url)
    const connectsBefore = connects.length
    const started = Date.now()
    await attemptDelivery(deps(false), deliveryId)
    t.ok(Date.now() - started < 500, `${url}: refused at once`)
    t.equal(connects.length, connectsBefore, `${url}: no connection was attempted`)
    const [attempt] = await attemptsOf(deliveryId)
    t.equal(attempt?.httpStatus, null)
    t.ok(attempt?.error?.includes(`resolves to ${address}, a private`), `${url}: ${attempt?.error}`)
  }
})

t.test('a host that rebinds to loopback between the check and the connection gets nothing', async (t) => {
  const receiver = await startReceiver(t)
  const deliveryId = await deliveryTo(`http://${rebindHost}:${receiver.port}/hook`)
  rebindLookups = 0
  await attemptDelivery(deps(false), deliveryId)
  t.ok(rebindLookups >= 2, `looked up again when connecting (${rebindLookups} lookups)`)
  t.equal(receiver.received.length, 0, 'the receiver got nothing')
  t.notOk(connects.includes('93.184.216.34'), 'the public answer was never connected to either')
  const [attempt] = await attemptsOf(deliveryId)
  t.equal(attempt?.httpStatus, null)
  t.match(attempt?.error, /rebind\.test resolves to 127\.0\.0\.1, a private/, `${attempt?.error}`)
})
