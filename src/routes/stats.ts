import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { parseStatsQuery, taskStats } from '../queries/stats.js'
import { problemRef } from '../schemas/problem.js'
import { Stats, StatsQuery } from '../schemas/queries.js'

/** Dashboard aggregates over a time window, scoped to the caller's tasks. */
const statsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/stats',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Aggregates over a time window',
        description:
          'Counts, success rate, credits and submit-to-finish percentiles cover tasks created in [from, to). The series counts, per UTC bucket, tasks created and tasks that ended in it. Every count is exact (a rollup plus a live count of what changed since its last refresh); the percentiles are within 2.2%.',
        querystring: StatsQuery,
        response: { 200: Stats, 400: problemRef, 401: problemRef, 429: problemRef },
      },
    },
    async (request) => {
      const window = parseStatsQuery(request.query, app.clock.now())
      return taskStats(app.prisma, request.caller, window)
    },
  )
}

export default statsRoutes
