import type { PrismaClient } from '../../src/db/client.js'
import type { Prisma } from '../../src/generated/prisma/client.js'

/**
 * Stores tasks straight in the database, in whatever state a test needs (created a minute
 * before `at`, due an hour after it), and reads their timelines back.
 */
export function taskFixtures(prisma: PrismaClient, at: Date, label: string) {
  let seq = 0
  return {
    newTask(fields: Partial<Prisma.TaskUncheckedCreateInput> = {}) {
      seq++
      return prisma.task.create({
        data: {
          model: 'hailuo-2.3',
          input: { prompt: `${label} ${seq}`, duration: 6 },
          clientScope: 'local',
          estimatedCredits: 25,
          deadlineAt: new Date(at.getTime() + 3_600_000),
          createdAt: new Date(at.getTime() - 60_000),
          ...fields,
        },
      })
    },
    timeline: (taskId: string) => prisma.taskEvent.findMany({ where: { taskId }, orderBy: { id: 'asc' } }),
  }
}
