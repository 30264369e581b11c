/**
 * Counts leaf test points (assertions and empty subtests) in a TAP 14 stream, so the
 * closing line reports tests, not files. A point is a subtest's summary, not a leaf,
 * when the line before it is the subtest's own plan (`1..N`), indented deeper.
 */
export interface TapCount {
  passed: number
  failed: number
  skipped: number
}

const pointPattern = /^(\s*)(not ok|ok)\b[^#]*(#\s*(skip|todo)\b)?/i
const planPattern = /^(\s*)1\.\.\d+/

export function createTapCounter(): { line(text: string): void; result(): TapCount } {
  const count: TapCount = { passed: 0, failed: 0, skipped: 0 }
  let previousPlanIndent = -1
  let inYaml = false
  return {
    line(text) {
      if (/^\s*---\s*$/.test(text)) inYaml = true
      if (inYaml) {
        if (/^\s*\.\.\.\s*$/.test(text)) inYaml = false
        return
      }
      const plan = planPattern.exec(text)
      if (plan) {
        previousPlanIndent = plan[1]?.length ?? 0
        return
      }
      const point = pointPattern.exec(text)
      if (!point) return
      const indent = point[1]?.length ?? 0
      const isSummary = previousPlanIndent > indent
      previousPlanIndent = -1
      if (isSummary) return
      if (point[4]) count.skipped++
      else if (point[2] === 'ok') count.passed++
      else count.failed++
    },
    result: () => ({ ...count }),
  }
}
