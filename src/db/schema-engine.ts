import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { PrismaPg } from '@prisma/adapter-pg'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'
import * as bindings from '@prisma/schema-engine-wasm/schema_engine_bg'
import pg from 'pg'

type SchemaEngine = bindings.SchemaEngine

// The global exists in Node; its types ship with TypeScript's DOM lib, which this project does not load.
declare const WebAssembly: {
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> } }>
}

let wasmReady: Promise<void> | undefined

/**
 * Node 20 cannot `import` a .wasm module without --experimental-wasm-modules,
 * so the engine's wasm is instantiated by hand and handed to its JS bindings.
 */
function loadWasm(): Promise<void> {
  wasmReady ??= (async () => {
    const require = createRequire(import.meta.url)
    // the package does not export its .wasm file; it sits beside the bindings
    const bindingsPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')
    const bytes = await readFile(join(dirname(bindingsPath), 'schema_engine_bg.wasm'))
    const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': bindings })
    const exports = instance.exports as { __wbindgen_start: () => void }
    bindings.__wbg_set_wasm(exports)
    exports.__wbindgen_start()
  })()
  return wasmReady
}

/**
 * @prisma/adapter-pg runs a migration script by splitting it on every `;`, which breaks
 * function bodies and string literals. Postgres takes the whole script as one simple
 * query (in one implicit transaction), as `prisma migrate deploy` sends it.
 */
function wholeScripts(factory: PrismaPg): PrismaPg {
  const connect = factory.connect.bind(factory)
  factory.connect = async () => {
    const adapter = await connect()
    // The engine understands only the adapter's own error type, which `onError` throws.
    const onError = (adapter as unknown as { onError(error: unknown): never }).onError.bind(adapter)
    adapter.executeScript = async (script: string) => {
      await adapter.underlyingDriver().query(script).catch(onError)
    }
    return adapter
  }
  return factory
}

/** Runs `fn` with a schema engine connected to `databaseUrl`, then frees it and its connections. */
export async function withSchemaEngine<T>(
  databaseUrl: string,
  datamodel: string,
  fn: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  await loadWasm()
  // Our own pool, so every connection is closed afterwards (a template database must have none).
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 })
  try {
    const adapter = bindMigrationAwareSqlAdapterFactory(wholeScripts(new PrismaPg(pool)))
    const engine = await bindings.SchemaEngine.new(
      { datamodels: [['schema.prisma', datamodel]] },
      () => {},
      adapter,
    )
    try {
      return await fn(engine)
    } finally {
      engine.free()
    }
  } finally {
    await pool.end()
  }
}
