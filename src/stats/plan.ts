/**
 * How a stats window is answered: from day rollup rows where a whole UTC day is inside the
 * window and none of its hours is dirty, from hour rows for the other whole clean hours,
 * and live from `tasks` for the rest (the partial hours at the edges and the dirty hours).
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
}

const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit
const ceilTo = (ms: number, unit: number) => Math.ceil(ms / unit) * unit

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

/** `dirtyHours`: starts of the hours the dirty log names (any outside the window are ignored). */
export function planWindow(from: number, to: number, dirtyHours: Set<number>): WindowPlan {
  const firstHour = ceilTo(from, hourMs)
  const endHour = floorTo(to, hourMs)
  if (firstHour >= endHour) return { days: [], hours: [], live: [{ from, to }] }
  const live: Range[] = []
  if (from < firstHour) live.push({ from, to: firstHour })
  if (endHour < to) live.push({ from: endHour, to })

  const days: number[] = []
  const hours: number[] = []
  const dayIsClean = (day: number) => {
    for (let hour = day; hour < day + dayMs; hour += hourMs) if (dirtyHours.has(hour)) return false
    return true
  }
  for (let hour = firstHour; hour < endHour; hour += hourMs) {
    const day = floorTo(hour, dayMs)
    if (day >= from && day + dayMs <= to && dayIsClean(day)) {
      days.push(day)
      hour = day + dayMs - hourMs
    } else if (dirtyHours.has(hour)) live.push({ from: hour, to: hour + hourMs })
    else hours.push(hour)
  }
  return { days, hours, live: mergeRanges(live) }
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
