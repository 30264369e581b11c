import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox'
import { modelCatalogJson } from '../models/index.js'

const ModelEntry = Type.Object({
  id: Type.String(),
  family: Type.String(),
  title: Type.String(),
  input_schema: Type.Record(Type.String(), Type.Unknown(), { description: 'JSON Schema of `input`' }),
  defaults: Type.Record(Type.String(), Type.Unknown()),
  credits: Type.Object({
    pricing: Type.String(),
    examples: Type.Array(
      Type.Object({ input: Type.Record(Type.String(), Type.Unknown()), credits: Type.Number() }),
    ),
  }),
})

const modelRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const catalog = modelCatalogJson()
  app.get(
    '/v1/models',
    {
      schema: {
        tags: ['models'],
        summary: "PoYo's models: input JSON Schema, defaults and credit estimates",
        response: { 200: Type.Object({ data: Type.Array(ModelEntry) }) },
      },
    },
    async () => ({ data: catalog }),
  )
}

export default modelRoutes
