/**
 * How a stats window is answered: from day rollup rows where a whole UTC day is inside the
 * window and none of its hours is dirty, from hour rows for the other whole clean hours,
 * and live from `tasks` for the rest (the dirty hours, and the partial hours at the edges).
 * Dirty hours are those `stats_dirty` names, waiting for a recount; a bucket read from the
 * rollup is read with its pending deltas (src/stats/read.ts), so it is exact however recent.
 * A clean partial hour mostly inside the window is its hour row minus the tasks of the part
 * outside, counted live: a window ending now then reads a few seconds of tasks, not an hour.
 * "Mostly" compares the parts up to `now` only: no task is created or ends in the future.
 * Times are epoch milliseconds; UTC hours and days are plain multiples (no leap seconds).
 */
export const hourMs = 3_600_000
export const dayMs = 24 * hourMs

export interface Range {
  from: number
  to: number
}

export interface WindowPlan {
  /** Starts of the days read from day rows. */
  days: number[]
  /** Starts of the hours read from hour rows (none inside `days`). */
  hours: number[]
  /** Ranges computed from `tasks`, merged and sorted. */
  live: Range[]
  /** Ranges outside the window inside buckets read whole: their tasks are subtracted. */
  minus: Range[]
}

/** The start of the `unit` (hour, day) that holds `ms`, and the first start at or after it. */
export const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit
export const ceilTo = (ms: number, unit: number) => Math.ceil(ms / unit) * unit

/** Adjacent or overlapping ranges as one, sorted. */
export function mergeRanges(ranges: Range[]): Range[] {
  const merged: Range[] = []
  for (const range of [...ranges].sort((a, b) => a.from - b.from)) {
    const last = merged.at(-1)
    if (last && range.from <= last.to) last.to = Math.max(last.to, range.to)
    else merged.push({ ...range })
  }
  return merged
}

/** The part of `range` that can hold tasks: up to `now`. */
const pastMs = (range: Range, now: number) => Math.max(0, Math.min(range.to, now) - range.from)

const dayIsClean = (day: number, dirtyHours: Set<number>) => {
  for (let hour = day; hour < day + dayMs; hour += hourMs) if (dirtyHours.has(hour)) return false
  return true
}

/**
 * The parts of a clean `bucket` outside the window to subtract when reading it whole is
 * cheaper than counting its `inside` part live (comparing past parts only), else null.
 */
function subtractedParts(bucket: Range, inside: Range, now: number): Range[] | null {
  const insidePast = pastMs(inside, now)
  if (pastMs(bucket, now) - insidePast >= insidePast) return null
  const parts: Range[] = []
  if (bucket.from < inside.from) parts.push({ from: bucket.from, to: inside.from })
  if (inside.to < bucket.to) parts.push({ from: inside.to, to: bucket.to })
  return parts
}

/** `dirtyHours`: starts of the hours the dirty log names (any outside the window are ignored). */
export function planWindow(from: number, to: number, dirtyHours: Set<number>, now: number): WindowPlan {
  const firstHour = ceilTo(from, hourMs)
  const endHour = floorTo(to, hourMs)
  if (firstHour >= endHour) return { days: [], hours: [], live: [{ from, to }], minus: [] }
  const live: Range[] = []
  const minus: Range[] = []
  const edgeHours: number[] = []
  const edge = (hour: number, inside: Range) => {
    const outside = dirtyHours.has(hour)
      ? null
      : subtractedParts({ from: hour, to: hour + hourMs }, inside, now)
    if (outside) {
      edgeHours.push(hour)
      minus.push(...outside)
    } else live.push(inside)
  }
  if (from < firstHour) edge(firstHour - hourMs, { from, to: firstHour })
  if (endHour < to) edge(endHour, { from: endHour, to })

  const days: number[] = []
  const hours: number[] = []
  for (let hour = firstHour; hour < endHour; hour += hourMs) {
    const day = floorTo(hour, dayMs)
    if (day >= from && day + dayMs <= to && dayIsClean(day, dirtyHours)) {
      days.push(day)
      hour = day + dayMs - hourMs
    } else if (dirtyHours.has(hour)) live.push({ from: hour, to: hour + hourMs })
    else hours.push(hour)
  }
  return { days, hours: [...hours, ...edgeHours], live: mergeRanges(live), minus }
}

/** Durations have day rows only: the days they are read from, and what is read live or subtracted. */
export interface DurationPlan {
  days: number[]
  live: Range[]
  minus: Range[]
}

/**
 * Whole clean days from day rows; a clean partial day mostly inside the window as its row
 * minus the part outside; anything else (dirty days, small parts of days) live. A day in
 * `recountDays` (it lost a duration its histogram cannot give back) is not clean.
 */
export function planDurations(
  from: number,
  to: number,
  dirtyHours: Set<number>,
  now: number,
  recountDays: Set<number> = new Set(),
): DurationPlan {
  const plan: DurationPlan = { days: [], live: [], minus: [] }
  for (let day = floorTo(from, dayMs); day < to; day += dayMs) {
    const inside = { from: Math.max(day, from), to: Math.min(day + dayMs, to) }
    const whole = { from: day, to: day + dayMs }
    let outside: Range[] | null = null
    if (dayIsClean(day, dirtyHours) && !recountDays.has(day))
      outside = inside.to - inside.from === dayMs ? [] : subtractedParts(whole, inside, now)
    if (outside) {
      plan.days.push(day)
      plan.minus.push(...outside)
    } else plan.live.push(inside)
  }
  return { ...plan, live: mergeRanges(plan.live) }
}

/** The hours of some days, for hour-bucket series over days read from day rows. */
export function hoursOfDays(days: number[]): number[] {
  return days.flatMap((day) => Array.from({ length: 24 }, (_, i) => day + i * hourMs))
}

/** The series' bucket starts: every UTC hour or day the window touches. */
export function bucketStarts(from: number, to: number, unit: number): number[] {
  const starts: number[] = []
  for (let start = floorTo(from, unit); start < to; start += unit) starts.push(start)
  return starts
}
