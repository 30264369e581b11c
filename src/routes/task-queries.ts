import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { NotFoundError } from '../errors.js'
import { toTaskEventResource } from '../queries/events.js'
import { listTasks, parseListQuery } from '../queries/list-tasks.js'
import { problemRef } from '../schemas/problem.js'
import { ListTasksQuery, TaskEventList, TaskList } from '../schemas/queries.js'
import { TaskIdParams } from '../schemas/task.js'
import { visibleTasks } from '../tasks/caller.js'
import { toTaskResource } from '../tasks/resource.js'

/** Reading tasks: the filtered, paginated list and one task's timeline. */
const taskQueryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'List tasks, newest first',
        description:
          'Filters combine with AND. Pages are keyset-paginated: pass `next_cursor` back as `cursor` with the same filters; tasks created meanwhile do not shift later pages. Client keys see their own tasks only.',
        querystring: ListTasksQuery,
        response: { 200: TaskList, 400: problemRef, 401: problemRef, 429: problemRef },
      },
    },
    async (request) => {
      const listRequest = parseListQuery(request.query, request.caller)
      const { tasks, nextCursor } = await listTasks(app.prisma, request.caller, listRequest)
      return { data: tasks.map(toTaskResource), next_cursor: nextCursor }
    },
  )

  app.get(
    '/v1/tasks/:id/events',
    {
      schema: {
        tags: ['tasks'],
        summary: "The task's timeline, oldest first",
        description: 'Submit attempts, callbacks, polls, status changes and ignored updates, as recorded.',
        params: TaskIdParams,
        response: { 200: TaskEventList, 400: problemRef, 401: problemRef, 404: problemRef, 429: problemRef },
      },
    },
    async (request) => {
      const where = { id: request.params.id, ...visibleTasks(request.caller) }
      const task = await app.prisma.task.findFirst({ where, select: { id: true } })
      if (!task) throw new NotFoundError(`Task ${request.params.id}`)
      const events = await app.prisma.taskEvent.findMany({
        where: { taskId: task.id },
        orderBy: { id: 'asc' },
      })
      return { data: events.map(toTaskEventResource) }
    },
  )
}

export default taskQueryRoutes
