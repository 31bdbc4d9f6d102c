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

const buildValidator: BuildCompilerFromPool = (externalSchemas, options) => {
  let compiler: ReturnType<BuildCompilerFromPool> | undefined;
  return (route) =>
    lazyValidator(() => {
      compiler ??= (require('@fastify/ajv-compiler') as () => BuildCompilerFromPool)()(externalSchemas, options);
      return compiler(route);
    });
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
