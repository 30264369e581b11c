import t from 'tap'
import { withPgClient } from '../../src/db/admin.js'
import { buildTestApp } from '../helpers/app.js'
import { createTestDatabase, refuseConnections } from '../helpers/database.js'

t.test('GET /healthz answers while the process is up', async (t) => {
  const { app } = await buildTestApp(t)
  const response = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { status: 'ok' })
  t.match(response.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'every response carries a request id')
})

t.test('GET /readyz is 200 on a migrated database', async (t) => {
  const { app } = await buildTestApp(t)
  const response = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { ready: true, database: 'ok', pending_migrations: [] })
})

t.test('GET /readyz is 503 and names the migrations when they are not applied', async (t) => {
  const emptyUrl = await createTestDatabase(t, { migrated: false })
  const { app, runtime } = await buildTestApp(t, {}, { databaseUrl: emptyUrl })
  const response = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(response.statusCode, 503)
  t.same(response.json().pending_migrations, runtime.deps.shippedMigrations)
  t.ok(runtime.deps.shippedMigrations.length > 0)
})

t.test('GET /readyz is 503 when one migration was rolled back', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t)
  await withPgClient(databaseUrl, (client) =>
    client.query('UPDATE _prisma_migrations SET rolled_back_at = now()'),
  )
  const response = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(response.statusCode, 503)
  t.equal(response.json().database, 'ok')
})

t.test('GET /readyz is 503 when the database stops accepting connections', async (t) => {
  const { app, databaseUrl } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })
  const allowConnections = await refuseConnections(t, databaseUrl)
  const response = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(response.statusCode, 503)
  t.same(response.json(), { ready: false, database: 'unreachable', pending_migrations: [] })
  await allowConnections()
  const recovered = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(recovered.statusCode, 200, 'ready again once the database is back')
})

t.test('unknown routes get a problem document, and a caller request id is kept', async (t) => {
  const { app } = await buildTestApp(t)
  const response = await app.inject({
    method: 'GET',
    url: '/v1/nothing?x=1',
    headers: { 'x-request-id': 'abc-123' },
  })
  t.equal(response.statusCode, 404)
  t.match(response.headers['content-type'], /^application\/problem\+json/)
  t.match(response.json(), {
    status: 404,
    code: 'ROUTE_NOT_FOUND',
    instance: '/v1/nothing',
    request_id: 'abc-123',
  })
  t.equal(response.headers['x-request-id'], 'abc-123')
})
