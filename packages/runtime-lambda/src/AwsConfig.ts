/**
 * How the AWS clients are built: region, an optional endpoint override (emulators such as
 * DynamoDB Local, s3rver, fauxqs or LocalStack) and optional explicit credentials. Without
 * credentials the SDK's standard chain applies (the Lambda role, env vars, profiles).
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 * @category models
 */
export interface AwsConfig {
  readonly region: string
  /** Endpoint override; S3 switches to path-style addressing when it is set. */
  readonly endpoint?: string
  /** Explicit credentials; default: the SDK's standard provider chain. */
  readonly credentials?: {
    readonly accessKeyId: string
    readonly secretAccessKey: string
    readonly sessionToken?: string
  }
  /** SDK attempts per call, the first included (default: the SDK's, 3). */
  readonly maxAttempts?: number
}

/**
 * The services a runtime talks to, for per-service endpoint overrides.
 *
 * @since 0.1.0
 * @category models
 */
export type Service = "s3" | "sqs" | "dynamodb" | "glue" | "athena"

/**
 * The constructor options shared by every SDK v3 client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clientOptions = (config: AwsConfig) => ({
  region: config.region,
  ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
  ...(config.credentials === undefined ? {} : { credentials: { ...config.credentials } }),
  ...(config.maxAttempts === undefined ? {} : { maxAttempts: config.maxAttempts })
})

/**
 * The config with the endpoint of one service, when `endpoints` overrides it.
 *
 * @since 0.1.0
 * @category combinators
 */
export const forService = (
  config: AwsConfig,
  endpoints: Partial<Record<Service, string>> | undefined,
  service: Service
): AwsConfig => {
  const endpoint = endpoints?.[service]
  return endpoint === undefined ? config : { ...config, endpoint }
}
