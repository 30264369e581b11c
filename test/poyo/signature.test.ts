import { createHmac } from 'node:crypto'
import t from 'tap'
import { signPoyoCallback, verifyPoyoCallback } from '../../src/poyo/signature.js'

const secret = 'whsec-abc'
const taskId = 'task-unified-1762943400-ab12cd34'
const now = 1_762_943_400

t.test('signature is base64 HMAC-SHA256 of "<task_id>.<timestamp>"', async (t) => {
  const expected = createHmac('sha256', secret).update(`${taskId}.${now}`).digest('base64')
  t.equal(signPoyoCallback(secret, taskId, now), expected)
  t.equal(signPoyoCallback(secret, taskId, String(now)), expected)
})

t.test('a valid signature verifies, within the tolerance either side', async (t) => {
  for (const ts of [now, now - 300, now + 300]) {
    const result = verifyPoyoCallback({
      secret,
      taskId,
      timestampHeader: String(ts),
      signatureHeader: signPoyoCallback(secret, taskId, ts),
      nowSeconds: now,
    })
    t.same(result, { ok: true }, `timestamp offset ${ts - now}`)
  }
})

t.test('rejections', async (t) => {
  const good = signPoyoCallback(secret, taskId, now)
  const cases: Array<{
    name: string
    args: Partial<Parameters<typeof verifyPoyoCallback>[0]>
    reason: RegExp
  }> = [
    {
      name: 'wrong secret',
      args: { signatureHeader: signPoyoCallback('other', taskId, now) },
      reason: /mismatch/,
    },
    { name: 'other task id', args: { taskId: 'task-other' }, reason: /mismatch/ },
    {
      name: 'old timestamp (301 s)',
      args: {
        timestampHeader: String(now - 301),
        signatureHeader: signPoyoCallback(secret, taskId, now - 301),
      },
      reason: /old/,
    },
    {
      name: 'future timestamp (301 s)',
      args: {
        timestampHeader: String(now + 301),
        signatureHeader: signPoyoCallback(secret, taskId, now + 301),
      },
      reason: /ahead/,
    },
    {
      name: 'missing timestamp',
      args: { timestampHeader: undefined },
      reason: /missing X-Webhook-Timestamp/,
    },
    {
      name: 'missing signature',
      args: { signatureHeader: undefined },
      reason: /missing X-Webhook-Signature/,
    },
    { name: 'garbage timestamp', args: { timestampHeader: '12abc' }, reason: /unix seconds/ },
    { name: 'timestamp in ms', args: { timestampHeader: String(now * 1000) }, reason: /unix seconds/ },
    { name: 'garbage signature (short)', args: { signatureHeader: 'xyz' }, reason: /mismatch/ },
    {
      name: 'garbage signature (same length)',
      args: { signatureHeader: 'A'.repeat(good.length) },
      reason: /mismatch/,
    },
    {
      name: 'repeated headers',
      args: { signatureHeader: [good, good] },
      reason: /missing X-Webhook-Signature/,
    },
    { name: 'non-ASCII signature', args: { signatureHeader: 'é'.repeat(good.length) }, reason: /mismatch/ },
  ]
  for (const c of cases) {
    const result = verifyPoyoCallback({
      secret,
      taskId,
      timestampHeader: String(now),
      signatureHeader: good,
      nowSeconds: now,
      ...c.args,
    })
    t.equal(result.ok, false, c.name)
    if (!result.ok) t.match(result.reason, c.reason, c.name)
  }
})

t.test('tolerance is configurable', async (t) => {
  const ts = now - 60
  const args = {
    secret,
    taskId,
    timestampHeader: String(ts),
    signatureHeader: signPoyoCallback(secret, taskId, ts),
  }
  t.equal(verifyPoyoCallback({ ...args, nowSeconds: now, toleranceSeconds: 30 }).ok, false)
  t.equal(verifyPoyoCallback({ ...args, nowSeconds: now, toleranceSeconds: 60 }).ok, true)
})
