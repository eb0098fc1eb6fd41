/**
 * Settings from the environment through Effect's `Config`: the building blocks every
 * runtime uses (a trimmed value, where blank counts as unset), and reading a `Config` from
 * a given environment with every problem named in one line.
 *
 * @since 0.1.0
 */
import { Config, ConfigError, ConfigProvider, Effect, Either, Option } from "effect"
import { InvalidInput } from "./Errors.js"

/**
 * An optional setting: trimmed; unset or blank is none.
 *
 * @since 0.1.0
 * @category settings
 */
export const optional = (name: string): Config.Config<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(Config.map(Option.flatMap((v) => Option.liftPredicate(v.trim(), (t) => t !== ""))))

/**
 * A required setting: trimmed; unset or blank is "NAME is not set".
 *
 * @since 0.1.0
 * @category settings
 */
export const required = (name: string): Config.Config<string> =>
  optional(name).pipe(
    Config.mapOrFail((v) => (Option.isSome(v) ? Either.right(v.value) : Either.left(ConfigError.InvalidData([name], `${name} is not set`))))
  )

/**
 * An optional setting checked by `parse` (which says what is wrong, e.g. "must be a
 * positive integer"): the problem is reported as "NAME <problem>, got "<value>"".
 *
 * @since 0.1.0
 * @category settings
 */
export const optionalParsed = <A>(name: string, parse: (value: string) => Either.Either<A, string>): Config.Config<Option.Option<A>> =>
  optional(name).pipe(
    Config.mapOrFail((v) => {
      if (Option.isNone(v)) return Either.right(Option.none())
      return Either.match(parse(v.value), {
        onLeft: (problem) => Either.left(ConfigError.InvalidData([name], `${name} ${problem}, got ${JSON.stringify(v.value)}`)),
        onRight: (a) => Either.right(Option.some(a))
      })
    })
  )

/**
 * A positive number (milliseconds, a count).
 *
 * @since 0.1.0
 * @category parsers
 */
export const positiveNumber = (v: string): Either.Either<number, string> =>
  Number.isFinite(Number(v)) && Number(v) > 0 ? Either.right(Number(v)) : Either.left("must be a positive number")

/**
 * A positive integer.
 *
 * @since 0.1.0
 * @category parsers
 */
export const positiveInteger = (v: string): Either.Either<number, string> =>
  Number.isInteger(Number(v)) && Number(v) >= 1 ? Either.right(Number(v)) : Either.left("must be a positive integer")

/** Every problem of a config error, in order. */
const problems = (e: ConfigError.ConfigError): ReadonlyArray<string> =>
  ConfigError.reduceWithContext(e, undefined, {
    andCase: (_, l, r) => [...l, ...r],
    orCase: (_, l, r) => [...l, ...r],
    invalidDataCase: (_, path, message) => [message.includes(path.join(".")) ? message : `${path.join(".")}: ${message}`],
    missingDataCase: (_, path) => [`${path.join(".")} is not set`],
    sourceUnavailableCase: (_, path, message) => [`${path.join(".")}: ${message}`],
    unsupportedCase: (_, path, message) => [`${path.join(".")}: ${message}`]
  } satisfies ConfigError.ConfigErrorReducer<unknown, ReadonlyArray<string>>)

/**
 * Reads a config from an environment (a map of variables); what is missing or malformed
 * is one `InvalidInput` naming every problem ("bad environment: A is not set; B must be …").
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEnv = <A>(config: Config.Config<A>, env: Readonly<Record<string, string | undefined>>): Either.Either<A, InvalidInput> => {
  const vars = new Map(Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [[k, v] as const])))
  return Effect.runSync(
    Effect.either(Effect.withConfigProvider(config, ConfigProvider.fromMap(vars))).pipe(
      Effect.map(Either.mapLeft((e) => new InvalidInput({ reason: `bad environment: ${[...new Set(problems(e))].join("; ")}` })))
    )
  )
}

/**
 * Reads a config from the ambient `ConfigProvider` (the process environment unless one is
 * provided); what is missing or malformed is one `InvalidInput`, as {@link fromEnv} says it.
 *
 * @since 0.3.0
 * @category constructors
 */
export const load = <A>(config: Config.Config<A>): Effect.Effect<A, InvalidInput> =>
  Effect.mapError(config, (e) => new InvalidInput({ reason: `bad environment: ${[...new Set(problems(e))].join("; ")}` }))
