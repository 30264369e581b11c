/**
 * The webhook sender keeps connections to receivers alive between messages (one agent per
 * process, not one per message): a receiver's later messages cost no new handshake, and a
 * connection the receiver dropped or left hanging is not used again.
 */
import t from 'tap'
import { systemClock } from '../../src/clock.js'
import { createWebhookSender } from '../../src/webhooks/sender.js'
import { answer, startReceiver } from '../helpers/webhook-receiver.js'

const timeoutMs = 500
const sender = createWebhookSender({
  policy: { allowPrivate: true, requireHttps: false },
  timeoutMs,
  clock: systemClock,
})
t.teardown(() => sender.close())

const headers = { 'content-type': 'application/json' }
const post = (url: string, index: number) => sender.post(url, headers, JSON.stringify({ index }))

t.test('messages to one receiver, one after another, reuse their connections', async (t) => {
  const receiver = await startReceiver(t, answer(204))
  const count = 8
  for (let index = 0; index < count; index++)
    t.match(await post(receiver.url, index), { httpStatus: 204, error: null })
  t.same(
    receiver.received.map((message) => JSON.parse(message.body).index),
    Array.from({ length: count }, (_, index) => index),
  )
  // undici may open a second connection while the first is still being handed back (the
  // answer read, the socket not yet free); an agent per message would open eight.
  const ports = new Set(receiver.received.map((message) => message.remotePort))
  t.ok(
    ports.size <= 2,
    `${count} messages on ${ports.size} connections (client ports ${[...ports].join(', ')})`,
  )
})

t.test('a connection the receiver dropped is not used again', async (t) => {
  const receiver = await startReceiver(t, (_received, response, index) => {
    if (index === 1) response.socket?.destroy()
    else response.writeHead(200).end('ok')
  })
  t.match(await post(receiver.url, 0), { httpStatus: 200, responseBody: 'ok' })
  const dropped = await post(receiver.url, 1)
  t.equal(dropped.httpStatus, null)
  t.match(dropped.error, /closed|socket|reset|hang up/i, `${dropped.error}`)
  t.match(await post(receiver.url, 2), { httpStatus: 200, responseBody: 'ok' })
  const [, droppedPort, afterPort] = receiver.received.map((message) => message.remotePort)
  t.not(afterPort, droppedPort, 'the message after it went on another connection')
})

t.test('a receiver that never answers times out; its next message gets a fresh connection', async (t) => {
  const receiver = await startReceiver(t, (_received, response, index) => {
    if (index !== 0) response.writeHead(200).end()
  })
  const started = Date.now()
  const hung = await post(receiver.url, 0)
  t.equal(hung.httpStatus, null)
  t.match(hung.error, /timeout|aborted/i, `${hung.error}`)
  t.ok(Date.now() - started < timeoutMs * 6, 'within about the timeout')
  t.match(await post(receiver.url, 1), { httpStatus: 200 })
  const [first, second] = receiver.received.map((message) => message.remotePort)
  t.not(second, first, 'not on the hung connection')
})
