import { withPgClient } from '../../src/db/admin.js'

/**
 * The shape of the public schema as Postgres sees it (tables, columns, types, defaults,
 * indexes, constraints, enums), excluding Prisma's bookkeeping table. Two databases
 * with equal catalogs have the same schema.
 */
export async function readCatalog(url: string): Promise<Record<string, unknown[]>> {
  const queries: Record<string, string> = {
    // Columns named `*_manual` are hand-written too (generated columns, which schema.prisma
    // cannot describe).
    columns: `
      SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default,
             character_maximum_length, numeric_precision, numeric_scale, datetime_precision
      FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name <> '_prisma_migrations' AND column_name NOT LIKE '%\\_manual'
      ORDER BY table_name, column_name`,
    // Indexes named `*_manual` come from hand-written migrations (expression and trigram
    // indexes, which schema.prisma cannot describe), so a schema-built database lacks them.
    indexes: `
      SELECT tablename, indexname, indexdef FROM pg_indexes
      WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' AND indexname NOT LIKE '%\\_manual'
      ORDER BY tablename, indexname`,
    constraints: `
      SELECT c.conrelid::regclass::text AS table_name, c.conname, c.contype::text AS type,
             pg_get_constraintdef(c.oid) AS definition
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
      WHERE n.nspname = 'public' AND c.conrelid::regclass::text <> '_prisma_migrations'
      ORDER BY 1, 2`,
    // Objects an extension created (pg_trgm, installed by a hand-written migration) belong
    // to the extension, not to schema.prisma. pg_trgm adds no tables, enums or sequences
    // today; this keeps it that way for whatever a later version adds.
    enums: `
      SELECT t.typname, e.enumlabel, e.enumsortorder::float8 AS position
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = 'public'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
      ORDER BY t.typname, e.enumsortorder`,
    sequences: `
      SELECT sequence_name, data_type FROM information_schema.sequences
      WHERE sequence_schema = 'public' ORDER BY sequence_name`,
  }
  return withPgClient(url, async (client) => {
    const catalog: Record<string, unknown[]> = {}
    for (const [name, sql] of Object.entries(queries)) catalog[name] = (await client.query(sql)).rows
    return catalog
  })
}
