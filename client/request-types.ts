import type * as z from 'zod';

/**
 * The request a client may send, read off the API's own zod schema at compile time. api-types.test.ts
 * holds the client's plain request types (api-types.ts) equal to it; the package itself never sees zod.
 *
 * `z.input` alone is too loose for our schemas: `z.preprocess` (used to let `null` stand for an absent
 * field) types its input as `unknown`, which would make every optional field `unknown`. So for a field
 * whose input is `unknown` and that is a preprocess pipe, this takes the input of the schema inside it
 * (plus `null`, which the preprocess accepts). Fields whose input is genuinely `unknown` (e.g. the
 * deprecated `enableFallback`, or `z.coerce`) stay `unknown`. If the schema's preprocess gets a typed
 * argument one day, `z.input` is already precise and this passes it through unchanged.
 */
export type RequestInput<S> = Flat<
  { [K in RequiredKeys<Shape<S>>]: FieldInput<Shape<S>[K]> } & {
    [K in OptionalKeys<Shape<S>>]?: FieldInput<Shape<S>[K]>;
  }
>;

type OptionalKeys<Fields> = {
  [K in keyof Fields]: undefined extends FieldInput<Fields[K]> ? K : never;
}[keyof Fields];
type RequiredKeys<Fields> = Exclude<keyof Fields, OptionalKeys<Fields>>;

/** The object's shape, looking through a trailing `.transform()` (which makes the schema a pipe). */
type Shape<S> =
  S extends z.ZodObject<infer Fields> ? Fields : S extends { in: infer Inner } ? Shape<Inner> : never;

type FieldInput<F> =
  unknown extends z.input<F>
    ? F extends { in: infer Before; out: infer After }
      ? Before extends z.core.$ZodTransform
        ? FieldInput<After> | null // z.preprocess(fn, schema): what `schema` takes, or null
        : FieldInput<Before> // a pipe such as preprocess(...).transform(...): what its first stage takes
      : z.input<F>
    : z.input<F>;

type Flat<T> = { [K in keyof T]: T[K] } & {};
