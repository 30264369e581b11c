import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { NotFoundError, ServiceUnavailableError, TaskNotSubmittedError } from '../errors.js'
import { problemRef } from '../schemas/problem.js'
import { CreateTaskBody, IdempotencyHeaders, TaskIdParams, TaskResource } from '../schemas/task.js'
import { visibleTasks } from '../tasks/caller.js'
import { createTask } from '../tasks/create-task.js'
import { pollTask } from '../tasks/poll.js'
import { toTaskResource } from '../tasks/resource.js'

const taskRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(TaskResource)

  app.post(
    '/v1/tasks',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Submit a generation task to PoYo',
        description:
          "Validates the input against the model's documented rules, stores the task and submits it in the background. Answers 202 with the task; with an Idempotency-Key already used for the same body, the original task (200).",
        headers: IdempotencyHeaders,
        body: CreateTaskBody,
        response: { 200: TaskResource, 202: TaskResource, 400: problemRef, 409: problemRef },
      },
    },
    async (request, reply) => {
      const { task, created } = await createTask(
        app,
        request.caller,
        request.body,
        request.headers['idempotency-key'],
      )
      // After the answer is out: the submit runs on this event loop and should not delay it.
      if (created) reply.raw.once('finish', () => app.wakeSubmitter())
      return reply
        .code(created ? 202 : 200)
        .header('location', `/v1/tasks/${task.id}`)
        .send(toTaskResource(task))
    },
  )

  app.get(
    '/v1/tasks/:id',
    {
      schema: {
        tags: ['tasks'],
        summary: 'One task',
        params: TaskIdParams,
        response: { 200: TaskResource, 400: problemRef, 404: problemRef },
      },
    },
    async (request) => {
      const task = await app.prisma.task.findFirst({
        where: { id: request.params.id, ...visibleTasks(request.caller) },
      })
      if (!task) throw new NotFoundError(`Task ${request.params.id}`)
      return toTaskResource(task)
    },
  )

  app.post(
    '/v1/tasks/:id/refresh',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Ask PoYo for the task now and apply its answer',
        params: TaskIdParams,
        response: { 200: TaskResource, 400: problemRef, 404: problemRef, 409: problemRef, 503: problemRef },
      },
    },
    async (request) => {
      const where = { id: request.params.id, ...visibleTasks(request.caller) }
      const task = await app.prisma.task.findFirst({ where })
      if (!task) throw new NotFoundError(`Task ${request.params.id}`)
      if (!task.providerTaskId) throw new TaskNotSubmittedError(task.id)
      const result = await pollTask(
        { prisma: app.prisma, poyo: app.poyo, clock: app.clock, logger: request.log },
        { id: task.id, providerTaskId: task.providerTaskId, pollAttempts: task.pollAttempts },
      )
      if (!result.ok)
        throw new ServiceUnavailableError(
          `PoYo did not answer (${result.error}); the task will be polled again`,
        )
      return toTaskResource(await app.prisma.task.findUniqueOrThrow({ where: { id: task.id } }))
    },
  )
}

export default taskRoutes
