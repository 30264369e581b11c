/** A no-op Fastify app (run as its own process): the HTTP floor the callback route is compared with. */
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/healthz', async () => ({ ok: true }))
app.post('/noop/:id', async () => ({ received: true, outcome: 'applied' }))
await app.listen({ host: '127.0.0.1', port: Number(process.env['NOOP_PORT']) })
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)))
