import { randomUUID } from 'node:crypto'
import { createApiKey } from '../../src/auth/api-keys.js'
import type { PrismaClient } from '../../src/db/client.js'
import type { Prisma } from '../../src/generated/prisma/client.js'
import type { Caller } from '../../src/tasks/caller.js'
import type { TaskStatus } from '../../src/tasks/status.js'
import type { Test } from 'tap'
import { freePort } from '../../scripts/lib/free-port.js'
import { buildTestApp } from '../helpers/app.js'

export { freePort }

/** Settings for apps whose tests make hundreds of requests with one key. */
export const busyEnv = { RATE_LIMIT_PER_MINUTE: '1000000' }

export interface TestKey {
  id: string
  /** Request headers carrying the key. */
  headers: { authorization: string }
}

/** A real API key of `role`, as a request sends it. */
export async function createKey(
  prisma: PrismaClient,
  role: 'admin' | 'client',
  name: string = role,
): Promise<TestKey> {
  const { apiKey, secret } = await createApiKey(prisma, { name, role })
  return { id: apiKey.id, headers: { authorization: `Bearer ${secret}` } }
}

/** The app the list plan tests query (workers off), a client key, and an admin and that client as callers. */
export async function listTestSetup(t: Test) {
  const { runtime } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })
  const prisma = runtime.deps.prisma
  const client = await createKey(prisma, 'client')
  const admin: Caller = { apiKeyId: null, role: 'admin', scope: 'admin' }
  const asClient: Caller = { apiKeyId: client.id, role: 'client', scope: client.id }
  return { prisma, client, admin, asClient, databaseUrl: runtime.deps.databaseUrl }
}

/**
 * The callers the stats tests compare: an admin, a client per key (named by `keys`' names),
 * and a client without a key (tasks stored without one).
 */
export function statsCallers(keys: Record<string, TestKey>): Record<string, Caller> {
  const clients = Object.entries(keys).map(([name, key]): [string, Caller] => [
    name,
    { role: 'client', apiKeyId: key.id, scope: key.id },
  ])
  return {
    admin: { role: 'admin', apiKeyId: null, scope: 'admin' },
    ...Object.fromEntries(clients),
    'no key': { role: 'client', apiKeyId: null, scope: 'local' },
  }
}

export interface SeedTask {
  id?: string
  model: string
  status: TaskStatus
  createdAt: Date
  input: Record<string, unknown>
  apiKeyId?: string | null
  submittedAt?: Date | null
  finishedAt?: Date | null
  credits?: number | null
}

/** Inserts tasks directly (no PoYo, no jobs); returns their ids in input order. */
export async function insertTasks(prisma: PrismaClient, tasks: SeedTask[]): Promise<string[]> {
  const rows: Prisma.TaskCreateManyInput[] = tasks.map((task) => ({
    id: task.id ?? randomUUID(),
    model: task.model,
    status: task.status,
    input: task.input as Prisma.InputJsonValue,
    apiKeyId: task.apiKeyId ?? null,
    clientScope: task.apiKeyId ?? 'local',
    estimatedCredits: 100,
    deadlineAt: new Date(task.createdAt.getTime() + 3_600_000),
    createdAt: task.createdAt,
    updatedAt: task.createdAt,
    submittedAt: task.submittedAt ?? null,
    finishedAt: task.finishedAt ?? null,
    credits: task.credits ?? null,
  }))
  await prisma.task.createMany({ data: rows })
  return rows.map((row) => row.id as string)
}

/** A small deterministic PRNG, so a failing data set can be reproduced. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0
    return state / 2 ** 32
  }
}
