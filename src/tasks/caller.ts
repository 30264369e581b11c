import type { Prisma } from '../generated/prisma/client.js'

/** Who is asking: the API key behind a request, or the single local client before keys exist. */
export interface Caller {
  apiKeyId: string | null
  role: 'client' | 'admin'
  /** Scope of Idempotency-Keys: the API key's id, or "local". */
  scope: string
}

export const localCaller: Caller = { apiKeyId: null, role: 'admin', scope: 'local' }

/** The tasks a caller may see: all for admins, their own for clients. */
export function visibleTasks(caller: Caller): Prisma.TaskWhereInput {
  return caller.role === 'admin' ? {} : { apiKeyId: caller.apiKeyId }
}
