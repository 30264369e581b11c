import t from 'tap'
import { callbackUrl } from '../../src/tasks/callback-token.js'
import { buildTestApp } from '../helpers/app.js'

t.test('request logs carry the request id and never credentials', async (t) => {
  const { app, logs } = await buildTestApp(t)
  const response = await app.inject({
    method: 'GET',
    url: '/healthz?token=callback-token-value&page=2',
    headers: {
      authorization: 'Bearer sk-live-secret-value',
      'x-request-id': 'req-42',
      cookie: 'session=cookie-value',
    },
  })
  t.equal(response.statusCode, 200)
  const text = JSON.stringify(logs)
  t.notMatch(text, /sk-live-secret-value/, 'the bearer key is not logged')
  t.notMatch(text, /callback-token-value/, 'token query parameters are not logged')
  t.notMatch(text, /cookie-value/)
  const incoming = logs.find((line) => line.msg === 'incoming request') as {
    reqId: string
    req: { url: string }
  }
  t.equal(incoming.reqId, 'req-42')
  t.equal(incoming.req.url, '/healthz?token=[Redacted]&page=2')
})

t.test(
  'at warn, a request that logs nothing at info still logs its warnings with its request id',
  async (t) => {
    const { app, logs } = await buildTestApp(t, { LOG_LEVEL: 'warn' })
    // A callback (valid token) for a task this service does not have: answered, and warned about.
    const taskId = '0190f3a2-0000-7000-8000-00000000abcd'
    const response = await app.inject({
      method: 'POST',
      url: callbackUrl('', app.callbackSecret, taskId),
      headers: { 'x-request-id': 'req-7' },
      payload: { task_id: 'poyo-1', status: 'finished', progress: 100, files: [] },
    })
    t.equal(response.statusCode, 200)
    t.equal(response.json().outcome, 'unknown_task')
    t.notOk(
      logs.some((line) => line.msg === 'incoming request' || line.msg === 'request completed'),
      'no info lines',
    )
    const warning = logs.find((line) => line.msg === 'callback for an unknown task ignored')
    t.match(warning, { reqId: 'req-7', taskId, level: 40 }, 'the warning carries the request id')
  },
)
