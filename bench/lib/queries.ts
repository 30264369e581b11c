import { benchId } from './db.js'
import { call, type LoadResult, sequential } from './load.js'
import { clientKeySet, commonWord, models, oldWord, rareWord } from './scale.js'
import type { Stack } from './service.js'

export type QueryResult =
  (LoadResult & { name: string; path: string; rows: number }) | { name: string; skipped: string }

interface Page {
  data: unknown[]
  next_cursor: string | null
}

const day = 86_400_000
const iso = (ms: number) => new Date(ms).toISOString()

/** Whether a route exists: an unknown route answers 404 (a bad query would be 400). */
async function routeMissing(base: string, path: string, key: string): Promise<boolean> {
  const response = await fetch(base + path, { headers: { authorization: `Bearer ${key}` } })
  await response.arrayBuffer()
  return response.status === 404
}

/** Follows next_cursor from the first page to page `page`; returns that page's cursor. */
async function cursorOfPage(base: string, key: string, page: number): Promise<string | null> {
  let cursor: string | null = null
  for (let n = 1; n < page; n++) {
    const path: string = `/v1/tasks${cursor ? `?cursor=${cursor}` : ''}`
    const body: Page = await call<Page>(base, { path, headers: { authorization: `Bearer ${key}` } })
    cursor = body.next_cursor
    if (!cursor) return null
  }
  return cursor
}

/**
 * List, filters, deep page and stats at scale, each measured on its own for `seconds` (one
 * connection, one request at a time: the latency of a request, not of a queue).
 */
export async function benchQueries(
  stack: Stack,
  adminKey: string,
  opts: { seconds: number; deepPage: number },
): Promise<QueryResult[]> {
  const auth = { authorization: `Bearer ${adminKey}` }
  const now = Date.now()
  const list: { name: string; path: string }[] = [
    { name: 'list: first page', path: '/v1/tasks' },
    { name: 'list: status=failed', path: '/v1/tasks?status=failed' },
    { name: 'list: status=running&status=queued', path: '/v1/tasks?status=running&status=queued' },
    { name: `list: model=${models[3]}`, path: `/v1/tasks?model=${encodeURIComponent(models[3]!)}` },
    {
      name: 'list: created range (1 day, 30 days ago)',
      path: `/v1/tasks?created_after=${iso(now - 30 * day)}&created_before=${iso(now - 29 * day)}`,
    },
    { name: 'list: client (1 key of 20)', path: `/v1/tasks?client=${benchId(clientKeySet, 7)}` },
    { name: `list: q=${commonWord} (~2.5%)`, path: `/v1/tasks?q=${commonWord}` },
    { name: `list: q=${rareWord} (~0.01%)`, path: `/v1/tasks?q=${rareWord}` },
    { name: `list: q=${oldWord} (~2.5%, none in 30 days)`, path: `/v1/tasks?q=${oldWord}` },
  ]
  const stats = [
    {
      name: 'stats: day (hour buckets)',
      path: `/v1/stats?from=${iso(now - day)}&to=${iso(now)}&bucket=hour`,
    },
    {
      name: 'stats: month (day buckets)',
      path: `/v1/stats?from=${iso(now - 30 * day)}&to=${iso(now)}&bucket=day`,
    },
  ]
  const results: QueryResult[] = []
  const listMissing = await routeMissing(stack.base, '/v1/tasks?limit=1', adminKey)
  const statsMissing = await routeMissing(stack.base, '/v1/stats', adminKey)

  const measure = async (name: string, path: string) => {
    const first = await call<Page & { series?: unknown[] }>(stack.base, { path, headers: auth })
    await sequential(stack.base, 0.5, { path, headers: auth })
    const load = await sequential(stack.base, opts.seconds, { path, headers: auth })
    results.push({ name, path, rows: first.data?.length ?? first.series?.length ?? 0, ...load })
  }

  if (listMissing) {
    for (const q of list) results.push({ name: q.name, skipped: 'route missing' })
    results.push({ name: `list: page ${opts.deepPage} (cursor)`, skipped: 'route missing' })
  } else {
    const [firstPage, ...filters] = list
    await measure(firstPage!.name, firstPage!.path)
    const cursor = await cursorOfPage(stack.base, adminKey, opts.deepPage)
    if (cursor) await measure(`list: page ${opts.deepPage} (cursor)`, `/v1/tasks?cursor=${cursor}`)
    else results.push({ name: `list: page ${opts.deepPage} (cursor)`, skipped: 'fewer pages than that' })
    for (const q of filters) await measure(q.name, q.path)
  }
  for (const q of stats) {
    if (statsMissing) results.push({ name: q.name, skipped: 'route missing' })
    else await measure(q.name, q.path)
  }
  return results
}
