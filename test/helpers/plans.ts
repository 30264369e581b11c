/** A node of an `EXPLAIN (ANALYZE, FORMAT JSON)` plan: the fields the plan tests read. */
export interface PlanNode {
  'Node Type': string
  'Index Name'?: string
  'Index Cond'?: string
  'Actual Rows': number
  'Actual Loops'?: number
  'Rows Removed by Filter'?: number
  Plans?: PlanNode[]
}

/** The rows an `EXPLAIN (…, FORMAT JSON)` returns. */
export type ExplainRow = { 'QUERY PLAN': [{ Plan: PlanNode }] }

/** Every node of a plan, depth first. */
export const planNodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(planNodes)]

/** A plan as the indexes and node types it reads, for assertion messages. */
export const planShape = (all: PlanNode[]) =>
  JSON.stringify(all.map((node) => node['Index Name'] ?? node['Node Type']))

/** Index entries these scans touched: returned plus skipped by a filter. */
export const entriesRead = (scans: PlanNode[]) =>
  scans.reduce((sum, scan) => sum + scan['Actual Rows'] + (scan['Rows Removed by Filter'] ?? 0), 0)
