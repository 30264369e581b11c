import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { checkReadiness } from '../db/readiness.js'

const Healthy = Type.Object({ status: Type.Literal('ok') })
const Readiness = Type.Object({
  ready: Type.Boolean(),
  database: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')]),
  pending_migrations: Type.Array(Type.String()),
})

/** Liveness (the process answers) and readiness (database reachable, migrations applied). */
const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'The process is up', response: { 200: Healthy } } },
    async () => ({ status: 'ok' as const }),
  )

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Database reachable and all migrations applied',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const readiness = await checkReadiness(app.prisma, app.shippedMigrations)
      return reply.code(readiness.ready ? 200 : 503).send(readiness)
    },
  )
}

export default healthRoutes
