/**
 * The per-task token in PoYo's callback URL: HMAC-SHA256 of `poyo-callback:<task id>` under
 * the secret, base64url. Tokens of a URL already handed to PoYo must stay valid across
 * releases, so the exact construction is pinned here, against node:crypto used plainly.
 */
import { createHmac, randomUUID } from 'node:crypto'
import t from 'tap'
import { callbackToken, callbackUrl, verifyCallbackToken } from '../../src/tasks/callback-token.js'

const plainToken = (secret: string, taskId: string) =>
  createHmac('sha256', secret).update(`poyo-callback:${taskId}`).digest('base64url')

t.test('the token is HMAC-SHA256 of the task id under the secret, whichever secret comes', async (t) => {
  const taskId = randomUUID()
  // Alternating secrets: a cached key must follow the secret it is given.
  for (const secret of [
    'first-secret-0123456789abcdef',
    'second-secret-0123456789abcdef',
    'first-secret-0123456789abcdef',
  ]) {
    t.equal(callbackToken(secret, taskId), plainToken(secret, taskId), `under ${secret.split('-')[0]}`)
  }
  t.not(
    callbackToken('first-secret-0123456789abcdef', taskId),
    callbackToken('second-secret-0123456789abcdef', taskId),
  )
})

t.test('a token verifies for its own task and secret only', async (t) => {
  const secret = 'a-secret-0123456789abcdef0123'
  const taskId = randomUUID()
  const token = callbackToken(secret, taskId)
  t.ok(verifyCallbackToken(secret, taskId, token))
  t.notOk(verifyCallbackToken(secret, randomUUID(), token), "another task's id")
  t.notOk(verifyCallbackToken('another-secret-0123456789abcdef', taskId, token), 'another secret')
  t.notOk(verifyCallbackToken(secret, taskId, token.slice(1)), 'a shorter token')
  t.notOk(verifyCallbackToken(secret, taskId, undefined), 'no token')
  t.equal(
    callbackUrl('https://svc.example/', secret, taskId),
    `https://svc.example/v1/callbacks/poyo/${taskId}?token=${token}`,
  )
})
