import { createHash } from 'node:crypto'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../generated/prisma/client.js'

export type { Prisma } from '../generated/prisma/client.js'
export type { PrismaClient }

export interface DatabaseOptions {
  url: string
  poolSize: number
}

const statementNames = new Map<string, string>()

/**
 * Runs this exact SQL text as a named prepared statement from now on: parsed and planned
 * once per connection instead of at every call (pg-boss's job insert: about 0.6 ms less).
 * Only for a few hot statements whose plan does not depend on their parameters (a generic
 * plan could be a bad one for a filtered query); every other query stays unnamed.
 */
export function prepareStatement(sql: string): void {
  if (!statementNames.has(sql))
    statementNames.set(sql, `poyo_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`)
}

/** A Prisma client over node-postgres (driver adapter: no Rust query engine). */
export function createPrismaClient({ url, poolSize }: DatabaseOptions): PrismaClient {
  const adapter = new PrismaPg(
    { connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 },
    // No name (undefined) leaves a query unnamed, exactly as without a generator.
    { statementNameGenerator: (query) => statementNames.get(query.sql) as string },
  )
  return new PrismaClient({ adapter })
}
