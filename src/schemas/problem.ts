import { Type } from '@sinclair/typebox'

/** RFC 9457 problem document; `errors` lists each invalid field of a 400. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI naming the kind of problem' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable machine-readable code' }),
    instance: Type.Optional(Type.String()),
    request_id: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          pointer: Type.Optional(Type.String({ description: 'JSON pointer into the request body' })),
          parameter: Type.Optional(
            Type.String({ description: 'Name of the query, path or header parameter' }),
          ),
          detail: Type.String(),
        }),
      ),
    ),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
)

export const problemRef = Type.Ref('Problem')
