/**
 * Who may call POST /v1/callbacks/poyo/{id}, and with what: the URL token, PoYo's signature
 * when a webhook secret is configured, the body's shape and size. Every rejected callback
 * must leave the task and its timeline exactly as they were. Real HTTP to a listening app.
 */
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { signPoyoCallback } from '../../src/poyo/signature.js'
import { callbackToken } from '../../src/tasks/callback-token.js'
import {
  createTask,
  getTask,
  type LiveApp,
  ofType,
  postCallback,
  poyoData,
  startLiveApp,
  steps,
  taskEvents,
} from '../helpers/live-service.js'

t.jobs = 3

const WEBHOOK_SECRET = 'poyo-account-webhook-secret'

/** Callbacks are applied as sent (no confirmation) and nothing runs by itself. */
const handDriven = { CALLBACK_CONFIRM: 'false', WORKERS_ENABLED: 'false' }

/** What a rejected callback must not change: the task row and its timeline. */
async function snapshot(live: LiveApp, taskId: string) {
  const task = await getTask(live, taskId)
  const events = await taskEvents(live, taskId)
  return { task, events: events.map((e) => e.id) }
}

async function assertUnchanged(t: Test, live: LiveApp, taskId: string, before: object, what: string) {
  t.same(await snapshot(live, taskId), before, `${what}: task and timeline unchanged`)
}

t.test('a missing or wrong token is 401 and stores nothing', async (t) => {
  const live = await startLiveApp(t, handDriven)
  const taskId = await createTask(live)
  const otherId = await createTask(live)
  const before = await snapshot(live, taskId)
  t.same(before.events.length, 1, 'only the created event to begin with')
  const body = poyoData('task-unified-1-aaaaaaaa')

  const cases: [string, string | null][] = [
    ['no token', null],
    ['an empty token', ''],
    ['a wrong token', 'x'.repeat(43)],
    ["another task's token", callbackToken(live.runtime.deps.callbackSecret, otherId)],
    ['a token made with another secret', callbackToken('some-other-secret', taskId)],
  ]
  for (const [what, token] of cases) {
    const answer = await postCallback(live, taskId, body, { token })
    t.equal(answer.status, 401, `${what}: 401`)
    t.match(answer.body, { status: 401, code: 'UNAUTHORIZED' }, `${what}: a problem document`)
  }
  await assertUnchanged(t, live, taskId, before, 'after five unauthenticated callbacks')
  t.equal(
    await live.runtime.deps.prisma.taskEvent.count({ where: { type: 'callback' } }),
    0,
    'no callback event anywhere',
  )

  // The same body with the right token is accepted: the rejections above were the token's doing.
  const accepted = await postCallback(live, taskId, body)
  t.equal(accepted.status, 200)
  t.equal((await getTask(live, taskId)).status, 'finished')
})

t.test('with a PoYo webhook secret, only fresh and correctly signed callbacks get in', async (t) => {
  const live = await startLiveApp(t, { ...handDriven, POYO_WEBHOOK_SECRET: WEBHOOK_SECRET })
  const taskId = await createTask(live)
  const providerId = 'task-unified-1700000000-sig00001'
  const body = poyoData(providerId)
  const before = await snapshot(live, taskId)
  // Timestamps are taken when each request is built, so a slow run cannot move them across the
  // 300 s line; the rejected ones stay a few seconds beyond it for the same reason.
  const nowSeconds = () => Math.floor(Date.now() / 1000)
  const signed = (offset: number, secret = WEBHOOK_SECRET, signedId = providerId) => {
    const ts = nowSeconds() + offset
    return {
      'x-webhook-timestamp': String(ts),
      'x-webhook-signature': signPoyoCallback(secret, signedId, ts),
    }
  }

  const rejected: [string, () => Record<string, string>][] = [
    ['no signature headers', () => ({})],
    ['a timestamp but no signature', () => ({ 'x-webhook-timestamp': String(nowSeconds()) })],
    ['a signature made with another secret', () => signed(0, 'not-the-secret')],
    ['a signature over another PoYo task id', () => signed(0, WEBHOOK_SECRET, 'task-unified-other')],
    [
      'a signature that is not base64 of the HMAC',
      () => ({ 'x-webhook-timestamp': String(nowSeconds()), 'x-webhook-signature': 'c2lnbmF0dXJl' }),
    ],
    ['a correctly signed timestamp 305 s old', () => signed(-305)],
    ['a correctly signed timestamp 1 hour old', () => signed(-3600)],
    ['a correctly signed timestamp 305 s ahead', () => signed(305)],
    ['a correctly signed timestamp 1 hour ahead', () => signed(3600)],
    [
      'a timestamp in milliseconds',
      () => {
        const ms = Date.now()
        return {
          'x-webhook-timestamp': String(ms),
          'x-webhook-signature': signPoyoCallback(WEBHOOK_SECRET, providerId, ms),
        }
      },
    ],
  ]
  for (const [what, headers] of rejected) {
    const answer = await postCallback(live, taskId, body, { headers: headers() })
    t.equal(answer.status, 401, `${what}: 401`)
    t.match(answer.body, { code: 'UNAUTHORIZED' }, what)
  }
  await assertUnchanged(t, live, taskId, before, 'after the rejected signatures')

  // A valid token without a valid signature is not enough...
  const tokenOnly = await postCallback(live, taskId, body)
  t.equal(tokenOnly.status, 401, 'the URL token alone is not enough once a secret is configured')
  // ...and a valid signature without the token is not either.
  const signatureOnly = await postCallback(live, taskId, body, { token: null, headers: signed(0) })
  t.equal(signatureOnly.status, 401, 'a valid signature does not replace the URL token')
  await assertUnchanged(t, live, taskId, before, 'after token-only and signature-only callbacks')

  // Within the 300 s tolerance (either side), signed over task_id + "." + timestamp: accepted.
  const fresh = await postCallback(live, taskId, body, { headers: signed(-120) })
  t.equal(fresh.status, 200, 'a correctly signed callback 120 s old is accepted')
  t.same(fresh.body, { received: true, outcome: 'applied' })
  const callbacks = ofType(await taskEvents(live, taskId), 'callback')
  t.equal(callbacks.length, 1)
  t.match(callbacks[0]?.payload, { signature_checked: true, body }, 'stored, marked as signature-checked')

  const ahead = await postCallback(live, taskId, body, { headers: signed(120) })
  t.equal(ahead.status, 200, 'a correctly signed callback 120 s ahead is accepted (a duplicate now)')
  t.same(ahead.body, { received: true, outcome: 'duplicate' })
  t.equal((await getTask(live, taskId)).status, 'finished')
})

t.test('malformed, mis-shaped and oversized bodies are refused and change nothing', async (t) => {
  const live = await startLiveApp(t, handDriven)
  const taskId = await createTask(live)
  const before = await snapshot(live, taskId)
  const providerId = 'task-unified-1700000000-badbody1'

  const cases: [string, string, number][] = [
    ['malformed JSON', '{"task_id": "x", "status": ', 400],
    ['an empty body', '', 400],
    ['JSON null', 'null', 400],
    ['a JSON array', JSON.stringify([poyoData(providerId)]), 400],
    ['a JSON string', JSON.stringify('finished'), 400],
    ['a JSON number', '200', 400],
    ['an object without task_id', JSON.stringify({ ...poyoData(providerId), task_id: undefined }), 400],
    ['an empty task_id', JSON.stringify(poyoData(providerId, { task_id: '' })), 400],
    ['a numeric task_id', JSON.stringify(poyoData(providerId, { task_id: 123 })), 400],
    ['an unknown status', JSON.stringify(poyoData(providerId, { status: 'done' })), 400],
    ["our own status word 'queued'", JSON.stringify(poyoData(providerId, { status: 'queued' })), 400],
    ['no status at all', JSON.stringify(poyoData(providerId, { status: undefined })), 400],
    ['files that are not a list', JSON.stringify(poyoData(providerId, { files: 'out.mp4' })), 400],
    [
      'a file without file_url',
      JSON.stringify(poyoData(providerId, { files: [{ file_type: 'video' }] })),
      400,
    ],
    [
      'a wrapped body with an unknown status',
      JSON.stringify({ code: 200, data: poyoData(providerId, { status: 'weird' }) }),
      400,
    ],
    ['a wrapped body without task_id', JSON.stringify({ code: 200, data: { status: 'finished' } }), 400],
    ['a body over 256 KB', JSON.stringify(poyoData(providerId, { padding: 'x'.repeat(260 * 1024) })), 413],
  ]
  for (const [what, raw, expected] of cases) {
    const answer = await postCallback(live, taskId, undefined, { raw })
    t.equal(answer.status, expected, `${what}: ${expected}`)
    t.match(answer.body, { status: expected }, `${what}: a problem document`)
  }
  await assertUnchanged(t, live, taskId, before, 'after every refused body')

  // A body just under the limit is fine: the 413 above is about size, not content.
  const big = poyoData(providerId, { padding: 'x'.repeat(250 * 1024) })
  const accepted = await postCallback(live, taskId, big)
  t.equal(accepted.status, 200, 'a 250 KB callback is accepted')
  t.equal((await getTask(live, taskId)).status, 'finished')
})

t.test('wrapped ({code, data}) and unwrapped bodies are both accepted', async (t) => {
  const live = await startLiveApp(t, handDriven)
  const unwrappedTask = await createTask(live)
  const wrappedTask = await createTask(live)
  const unwrappedBody = poyoData('task-unified-1700000000-unwrap01', { credits_amount: 30 })
  const wrappedBody = {
    code: 200,
    data: poyoData('task-unified-1700000000-wrap0001', {
      credits_amount: 31,
      files: [{ file_url: 'https://files.example/wrapped.mp4', file_type: 'video' }],
    }),
  }

  const unwrapped = await postCallback(live, unwrappedTask, unwrappedBody)
  const wrapped = await postCallback(live, wrappedTask, wrappedBody)
  t.same(unwrapped, { status: 200, body: { received: true, outcome: 'applied' } })
  t.same(wrapped, { status: 200, body: { received: true, outcome: 'applied' } })

  const a = await getTask(live, unwrappedTask)
  t.match(a, { status: 'finished', providerTaskId: 'task-unified-1700000000-unwrap01', credits: 30 })
  t.same(a.files, [
    { url: 'https://files.example/task-unified-1700000000-unwrap01/thumb.jpg', type: 'image' },
    { url: 'https://files.example/task-unified-1700000000-unwrap01/out.mp4', type: 'video' },
  ])
  const b = await getTask(live, wrappedTask)
  t.match(b, { status: 'finished', providerTaskId: 'task-unified-1700000000-wrap0001', credits: 31 })
  t.same(b.files, [{ url: 'https://files.example/wrapped.mp4', type: 'video' }], "the wrapped data's files")

  const stored = ofType(await taskEvents(live, wrappedTask), 'callback')[0]
  t.same(
    stored?.payload,
    { body: wrappedBody, signature_checked: false, confirm: false },
    'stored as received',
  )
})

t.test('a valid token for a task we do not know is acknowledged and ignored', async (t) => {
  const live = await startLiveApp(t, handDriven)
  const known = await createTask(live)
  const prisma = live.runtime.deps.prisma
  const eventsBefore = await prisma.taskEvent.count()

  const unknownId = randomUUID()
  const answer = await postCallback(live, unknownId, poyoData('task-unified-1700000000-unknown1'))
  t.same(answer, { status: 200, body: { received: true, outcome: 'unknown_task' } })
  t.ok(
    live.logs.some(
      (line) => line['msg'] === 'callback for an unknown task ignored' && line['taskId'] === unknownId,
    ),
    'logged',
  )

  // Ids that cannot be ours (not a UUID) are acknowledged too, without touching the database.
  const odd = await postCallback(live, 'task-unified-not-ours', poyoData('task-unified-1700000000-unknown2'))
  t.same(odd, { status: 200, body: { received: true, outcome: 'unknown_task' } })

  t.equal(await prisma.taskEvent.count(), eventsBefore, 'no event stored')
  t.equal(await prisma.task.count(), 1, 'no task created')
  t.equal((await getTask(live, known)).status, 'queued', 'the known task is untouched')

  // Still authenticated: a wrong token for an unknown id is 401, not a 2xx.
  const forged = await postCallback(live, randomUUID(), poyoData('x'), { token: 'nope' })
  t.equal(forged.status, 401)
})

t.test('the raw callback is stored as a callback event before it is applied', async (t) => {
  const live = await startLiveApp(t, handDriven)
  const taskId = await createTask(live)
  const body = { ...poyoData('task-unified-1700000000-raw00001'), extra_field: { kept: ['as', 'sent'] } }
  const answer = await postCallback(live, taskId, body)
  t.same(answer.body, { received: true, outcome: 'applied' })

  const events = await taskEvents(live, taskId)
  t.same(
    events.map((e) => e.type),
    ['created', 'callback', 'status_changed'],
    'callback first, then the change it caused',
  )
  const [, callback, change] = events
  t.equal(callback?.source, 'callback')
  t.same(callback?.payload, { body, signature_checked: false, confirm: false }, 'the body exactly as sent')
  t.ok(callback && change && callback.id < change.id && callback.createdAt <= change.createdAt)
  t.same(steps(events), ['queued→finished'])
  t.equal(change?.source, 'callback')
})
