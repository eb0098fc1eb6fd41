/**
 * The AWS prices `phs cost` uses, in one place: public on-demand list prices for US East
 * (N. Virginia), in USD, without the free tiers (a real bill is lower by whatever the
 * account's free tier still covers that month). Update `AS_OF` with the figures.
 *
 * Sources (the service pricing pages):
 * - Lambda   https://aws.amazon.com/lambda/pricing/ — duration per GB-second (first tier:
 *            7.5 billion GB-s a month on Arm, 6 billion on x86), requests per million.
 * - SQS      https://aws.amazon.com/sqs/pricing/ — standard queues, per million requests
 *            (each 64 KB chunk of a payload is one request).
 * - DynamoDB https://aws.amazon.com/dynamodb/pricing/on-demand/ — on-demand read and write
 *            request units (the prices in effect since the 1 November 2024 cut).
 * - S3       https://aws.amazon.com/s3/pricing/ — S3 Standard: PUT, COPY, POST, LIST per
 *            1,000; GET and other reads per 1,000; storage per GB-month (first 50 TB).
 * - Athena   https://aws.amazon.com/athena/pricing/ — SQL queries per TB scanned, at least
 *            10 MB per query.
 * - CloudWatch Logs https://aws.amazon.com/cloudwatch/pricing/ — ingestion per GB (standard class).
 * - EventBridge: events from AWS services (S3 "Object Created") on the default bus are free.
 */

/** The date these prices were written down. */
export const AS_OF = "2026-11-25"

export const REGION = "us-east-1"

export const PRICES = {
  lambda: {
    /** Per GB-second of duration, Arm (Graviton2). */
    arm64PerGbSecond: 0.0000133334,
    /** Per GB-second of duration, x86. */
    x86_64PerGbSecond: 0.0000166667,
    perMillionRequests: 0.2
  },
  sqs: {
    /** Standard queue, per million requests. */
    perMillionRequests: 0.4
  },
  dynamodb: {
    /** On-demand, per million write request units (1 KB each; a transactional write costs 2). */
    perMillionWriteUnits: 0.625,
    /** On-demand, per million read request units (4 KB strongly consistent; a transactional read costs 2). */
    perMillionReadUnits: 0.125
  },
  s3: {
    /** S3 Standard, per 1,000 PUT, COPY, POST or LIST requests. */
    perThousandPuts: 0.005,
    /** S3 Standard, per 1,000 GET (and other read) requests. */
    perThousandGets: 0.0004,
    /** S3 Standard, per GB-month (first 50 TB). */
    perGbMonth: 0.023
  },
  athena: {
    /** Per TB (10^12 bytes) scanned. */
    perTbScanned: 5,
    /** Every query is billed for at least this many bytes (10 MB). */
    minimumBytesPerQuery: 10 * 1024 * 1024
  },
  logs: {
    /** CloudWatch Logs ingestion, standard class, per GB. */
    perGbIngested: 0.5
  }
} as const

export type Prices = typeof PRICES
