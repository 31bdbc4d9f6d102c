// fastify's own schema compilers (ajv for requests, fast-json-stringify for replies), each route's
// validator or serializer compiled when the route first needs it rather than all of them while the
// server starts. Compiling the ~20 routes' schemas, and loading ajv to do it, was about a tenth of
// the daemon's start-up CPU, spent before the first line was read, for routes most runs never see.
// What a request or reply meets is unchanged: the same compiler, options and schemas, called once.
import type { BuildCompilerFromPool } from '@fastify/ajv-compiler';
import type { SerializerFactory } from '@fastify/fast-json-stringify-compiler';
import { createRequire } from 'node:module';

type Validator = ReturnType<ReturnType<BuildCompilerFromPool>>;
type Serializer = ReturnType<ReturnType<SerializerFactory>>;

const require = createRequire(import.meta.url);

/**
 * A validator that compiles on its first call. fastify reads `schemaEnv` (to let ajv coerce a root
 * value) and `errors` (after a failed call) on the function it was given: both are the compiled
 * validator's.
 */
function lazyValidator(compile: () => Validator): Validator {
  let compiled: Validator | undefined;
  const real = (): Validator => (compiled ??= compile());
  const validate = ((...args: unknown[]) => (real() as (...a: unknown[]) => unknown)(...args)) as unknown as Validator;
  Object.defineProperty(validate, 'errors', { get: () => (real() as { errors?: unknown }).errors });
  Object.defineProperty(validate, 'schemaEnv', { get: () => (real() as { schemaEnv?: unknown }).schemaEnv });
  return validate;
}

/**
 * Whether a schema admits only an object without keys, and nothing else: schemas.ts's NoQuery, on
 * /metrics, /healthz and most of the API. Exactly these three keywords, so no other schema is taken
 * for it.
 */
function isNoKeysObject(schema: unknown): boolean {
  if (typeof schema !== 'object' || schema === null) return false;
  const s = schema as Record<string, unknown>;
  const properties = s['properties'];
  return Object.keys(s).length === 3 && s['type'] === 'object' && s['additionalProperties'] === false
    && typeof properties === 'object' && properties !== null && Object.keys(properties).length === 0;
}

/**
 * The validator ajv compiles for such a schema, with fastify's options (removeAdditional): an
 * object has its keys deleted and passes; anything else is ajv's to refuse (compiled then). A
 * scraper's first GET /metrics would otherwise load ajv and compile its meta-schema, ~0.06 s of
 * CPU, to check that a query has no keys. No `schemaEnv`: fastify then passes no parent, which
 * only a root value ajv coerces would need, and ajv coerces no object.
 */
function noKeysValidator(compile: () => Validator): Validator {
  let compiled: Validator | undefined;
  const validate = ((data: unknown) => {
    if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
      // As ajv's code does: for…in, and delete.
      for (const key in data) delete (data as Record<string, unknown>)[key];
      return true;
    }
    return ((compiled ??= compile()) as (d: unknown) => unknown)(data);
  }) as unknown as Validator;
  Object.defineProperty(validate, 'errors', { get: () => (compiled as { errors?: unknown } | undefined)?.errors ?? null });
  return validate;
}

const buildValidator: BuildCompilerFromPool = (externalSchemas, options) => {
  let compiler: ReturnType<BuildCompilerFromPool> | undefined;
  return (route) => {
    const compile = (): Validator => {
      compiler ??= (require('@fastify/ajv-compiler') as () => BuildCompilerFromPool)()(externalSchemas, options);
      return compiler(route);
    };
    // Only with fastify's own ajv options for it (removeAdditional, not JTD), which the app keeps.
    const custom = options?.customOptions as { removeAdditional?: unknown } | undefined;
    const asFastifyDefaults = options?.mode !== 'JTD' && custom?.removeAdditional === undefined;
    return asFastifyDefaults && isNoKeysObject(route.schema) ? noKeysValidator(compile) : lazyValidator(compile);
  };
};

const buildSerializer: SerializerFactory = (externalSchemas, options) => {
  let compiler: ReturnType<SerializerFactory> | undefined;
  return (route) => {
    let serialize: Serializer | undefined;
    return (data) => {
      if (serialize === undefined) {
        compiler ??= (require('@fastify/fast-json-stringify-compiler') as () => SerializerFactory)()(externalSchemas, options);
        serialize = compiler(route);
      }
      return serialize(data);
    };
  };
};

/** fastify's `schemaController.compilersFactory`. */
export const LAZY_COMPILERS = { buildValidator, buildSerializer } as const;
