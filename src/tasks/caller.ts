import type { Prisma } from '../generated/prisma/client.js'

/** Who is asking: the API key behind a request. */
export interface Caller {
  apiKeyId: string | null
  role: 'client' | 'admin'
  /** Scope of Idempotency-Keys: the API key's id. */
  scope: string
}

/** The tasks a caller may see: all for admins, their own for clients. */
export function visibleTasks(caller: Caller): Prisma.TaskWhereInput {
  return caller.role === 'admin' ? {} : { apiKeyId: caller.apiKeyId }
}
