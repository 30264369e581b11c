import t from 'tap'
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
