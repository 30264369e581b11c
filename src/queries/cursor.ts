import { createHash } from 'node:crypto'
import { isUuid } from '../ids.js'
import { invalidParameter } from './params.js'

/** Where a page ended: the last task's sort key (created_at desc, id desc). */
export interface Position {
  createdAt: Date
  id: string
}

interface CursorBody {
  /** Format version, so the encoding can change without misreading old cursors. */
  v: 1
  t: string
  i: string
  /** Fingerprint of the filters the cursor was made with. */
  f: string
}

const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/**
 * A short digest of the filters. Filters are normalized first (statuses sorted, dates as
 * ISO instants), so the same filters written differently keep the cursor valid.
 */
export function filterFingerprint(filters: Record<string, unknown>): string {
  const entries = Object.entries(filters)
    .filter(([, value]) => value !== undefined && !(Array.isArray(value) && value.length === 0))
    .sort(([a], [b]) => (a < b ? -1 : 1))
  return createHash('sha256').update(JSON.stringify(entries)).digest('base64url').slice(0, 16)
}

export function encodeCursor(position: Position, fingerprint: string): string {
  const body: CursorBody = { v: 1, t: position.createdAt.toISOString(), i: position.id, f: fingerprint }
  return Buffer.from(JSON.stringify(body)).toString('base64url')
}

/** Reads a cursor, or answers 400 naming `cursor` when it is not one of ours or not for these filters. */
export function decodeCursor(cursor: string, fingerprint: string): Position {
  let body: Partial<CursorBody>
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw invalidParameter('cursor', 'is not a cursor this API returned')
  }
  const valid =
    body !== null &&
    typeof body === 'object' &&
    body.v === 1 &&
    typeof body.t === 'string' &&
    isoPattern.test(body.t) &&
    !Number.isNaN(Date.parse(body.t)) &&
    typeof body.i === 'string' &&
    isUuid(body.i) &&
    typeof body.f === 'string'
  if (!valid) throw invalidParameter('cursor', 'is not a cursor this API returned')
  if (body.f !== fingerprint)
    throw invalidParameter('cursor', 'was made for other filters: use it with the filters of its first page')
  return { createdAt: new Date(body.t as string), id: body.i as string }
}
