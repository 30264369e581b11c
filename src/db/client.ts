import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../generated/prisma/client.js'

export type { Prisma } from '../generated/prisma/client.js'
export type { PrismaClient }

export interface DatabaseOptions {
  url: string
  poolSize: number
}

/** A Prisma client over node-postgres (driver adapter: no Rust query engine). */
export function createPrismaClient({ url, poolSize }: DatabaseOptions): PrismaClient {
  const adapter = new PrismaPg({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 })
  return new PrismaClient({ adapter })
}
