/**
 * What running N spectra on the aws target costs, item by item, with the arithmetic shown.
 *
 * The one big item is the workers' Lambda duration, and it follows from one measured number:
 * the native fitter's CPU time per spectrum on this machine (`Measure.ts`). Lambda gives a
 * function CPU in proportion to its memory (1,769 MB = 1 vCPU, up to 6 vCPUs at 10,240 MB),
 * and the fitter uses every vCPU it gets, so a chunk's duration is
 * `spectra × cpu × archFactor ÷ (memory ÷ 1,769)` and its GB-seconds
 * `duration × memory ÷ 1,024`: the fitting GB-seconds do not depend on the memory size, the
 * per-invocation I/O and cold starts (billed at the configured memory) do.
 *
 * Everything else is a count of requests per chunk and per run, taken from what the stages
 * do (see `PER_CHUNK` and `PER_RUN`), times the list prices of `Prices.ts`.
 */
import * as Keys from "@phs/core/keys"
import { AS_OF, PRICES, type Prices, REGION } from "./Prices.js"

export type Arch = "arm64" | "x86_64"

/** What the estimate is for. */
export interface Inputs {
  readonly spectra: number
  readonly channels: number
  /** Cubes (runs) the spectra are spread over: per-run costs are paid once per cube. */
  readonly runs: number
  readonly chunkSize: number
  readonly arch: Arch
  /** Worker (and slow worker) memory, MB. */
  readonly memoryMb: number
  /** Per-core time on Lambda's `arch` ÷ per-core time on the machine that measured `cpuMsPerSpectrum`. */
  readonly archFactor: number
  /** The native fitter's CPU time per spectrum, one thread, ms (measured). */
  readonly cpuMsPerSpectrum: number
  /** Parquet result bytes per spectrum (measured). */
  readonly resultBytesPerSpectrum: number
  /** Catalog CPU (Parquet decode + encode) per row, ms (measured). */
  readonly catalogCpuMsPerRow: number
  /** Bytes of all the cubes (default: spectra × channels × 4 + a header per cube). */
  readonly cubeBytes?: number
  /** Athena queries over the results (each a full scan of these runs' rows). */
  readonly queries: number
  /** Workers running at once (the stack's reserved concurrency, default 500). */
  readonly workerConcurrency: number
}

/** Assumptions that are not measured here; every one is printed with the estimate. */
export const ASSUMPTIONS = {
  /** Lambda: this much memory is one full vCPU. */
  fullVcpuMb: 1769,
  /** Lambda's largest function: 10,240 MB, 6 vCPUs. */
  maxVcpus: 6,
  /**
   * arm64 (Graviton2) per-core time relative to a current x86-64 server core (the AMD EPYC
   * the figures in docs/deploying.md were measured on): scalar double-precision code such as
   * the fitter's Levenberg–Marquardt runs about 1.3× longer per core. x86_64 Lambda: 1.0.
   * Measuring on a faster machine (an Apple M-series laptop) calls for a larger factor.
   */
  archFactor: { arm64: 1.3, x86_64: 1.0 } as Readonly<Record<Arch, number>>,
  /** Per fit invocation, waiting on I/O: the payload GET, the Parquet PUT, ~6 DynamoDB calls, SQS. */
  fitIoMs: 300,
  /** Init of a new worker container (Node 20, the native addon, SDK clients), billed. */
  coldStartS: 2,
  /** S3 throughput of one function (ranged GETs and PUTs), MB/s. */
  s3MBps: 80,
  /** Fixed time of a splitter or catalog invocation (init, run table, journal), s. */
  stageStartS: 2,
  splitterMemoryMb: 2048,
  catalogMemoryMb: 3008,
  /** Log bytes per invocation: START, END, REPORT and one JSON line per record. */
  logBytesPerInvocation: 600
} as const

/** Requests per chunk (the chunk's own messages and records). */
export const PER_CHUNK = {
  /** Split's chunk item (1), the claim (1), fit's two journal records (2), and completing it: a transaction of 2 items at 2 WRU each (4). */
  writeUnits: 8,
  /** Fit's two journal lookups (strongly consistent, 1 each) and the run read back after the transaction (1). */
  readUnits: 3,
  /** Received by the event source mapping (1) and deleted (1); sends are batched by 10. */
  sqsRequests: 2,
  /** Split writes the payload (1), fit writes the chunk's Parquet (1). */
  puts: 2,
  /** Fit reads the payload (1), catalog reads the chunk's Parquet (1). */
  gets: 2
} as const

/** Requests per run. */
export const PER_RUN = {
  /** Run item and its completion (2), split's 5 journal records, 3 status transitions, catalog's 5 journal records. */
  writeUnits: 15,
  /** Journal lookups of split and catalog (10), run reads (2). */
  readUnits: 12,
  /** The catalog message: sent, received, deleted. */
  sqsRequests: 3,
  /** Manifest (1), `_stage_config.json` and `_validation.json` (2), the catalog's listing (1). */
  puts: 4,
  /** The cube's header reads. */
  gets: 3,
  /** splitter and catalog */
  invocations: 2
} as const

const MiB = 1024 * 1024
/** The splitter hashes the cube in reads of this size. */
const HASH_READ_BYTES = 8 * MiB
/** Chunks whose spectra split reads together (one ranged GET per channel plane per block), rows per compacted result file. */
const { SPLIT_CHUNKS_PER_BLOCK, ROWS_PER_PART } = Keys
/** `phs pipeline --target aws` uploads a cube through `BlobStoreS3.putFile`: in parts of this size when it is larger than one. */
const PART_BYTES = Keys.MULTIPART_PART_BYTES
const MULTIPART_THRESHOLD = PART_BYTES
/** GET requests Athena makes per result file and query (footer, column chunks). */
const ATHENA_GETS_PER_FILE = 12
/** PUTs per Athena query (the result and its metadata). */
const ATHENA_PUTS_PER_QUERY = 2
/** Days chunk payloads and per-chunk Parquet stay (the bucket's lifecycle rule). */
const SCRATCH_DAYS = 7

export interface Item {
  readonly service: string
  readonly name: string
  readonly quantity: number
  readonly unit: string
  readonly unitPrice: number
  readonly cost: number
  /** How the quantity and cost were reached, in one line. */
  readonly arithmetic: string
}

export interface Estimate {
  readonly inputs: Inputs
  readonly derived: {
    readonly spectraPerRun: number
    readonly chunksPerRun: number
    readonly chunks: number
    readonly vcpus: number
    readonly memoryGb: number
    readonly chunkSeconds: number
    readonly cubeBytes: number
    readonly resultBytes: number
  }
  readonly items: ReadonlyArray<Item>
  readonly total: number
  /** Storage, per month: not in `total`. */
  readonly storage: Item
  readonly prices: { readonly asOf: string; readonly region: string }
}

/** Numbers as text: thousands separated, at most `digits` decimals. */
export const num = (x: number, digits = 0): string => x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 })

/** Dollars: 4 decimals, 6 below a cent. */
export const usd = (x: number): string => `$${x.toFixed(x !== 0 && Math.abs(x) < 0.01 ? 6 : 4)}`

const price = (x: number): string => `$${String(x)}`

const gb = (bytes: number): number => bytes / 1e9

/** The estimate; pure arithmetic over the inputs, the assumptions and the prices. */
export const estimate = (inputs: Inputs, prices: Prices = PRICES): Estimate => {
  const A = ASSUMPTIONS
  const spectraPerRun = inputs.spectra / inputs.runs
  const chunksPerRun = Math.ceil(spectraPerRun / inputs.chunkSize)
  const chunks = chunksPerRun * inputs.runs
  const vcpus = Math.min(inputs.memoryMb / A.fullVcpuMb, A.maxVcpus)
  const memoryGb = inputs.memoryMb / 1024
  const gbSecond = inputs.arch === "arm64" ? prices.lambda.arm64PerGbSecond : prices.lambda.x86_64PerGbSecond
  const cubeBytes = inputs.cubeBytes ?? inputs.spectra * inputs.channels * 4 + inputs.runs * 5760
  const cubeBytesPerRun = cubeBytes / inputs.runs
  const resultBytes = inputs.spectra * inputs.resultBytesPerSpectrum
  const items: Item[] = []
  const lambda = (name: string, seconds: number, memGb: number, how: string) => {
    const gbs = seconds * memGb
    items.push({
      service: "Lambda",
      name,
      quantity: gbs,
      unit: "GB-s",
      unitPrice: gbSecond,
      cost: gbs * gbSecond,
      arithmetic: `${how} = ${num(seconds, 1)} s × ${num(memGb, 3)} GB = ${num(gbs, 1)} GB-s × ${price(gbSecond)}/GB-s`
    })
  }

  // Workers: fitting, I/O, cold starts.
  const fitSeconds = (inputs.spectra * inputs.cpuMsPerSpectrum * inputs.archFactor) / 1000 / vcpus
  lambda(
    "workers: fitting",
    fitSeconds,
    memoryGb,
    `${num(inputs.spectra)} spectra × ${num(inputs.cpuMsPerSpectrum, 3)} ms CPU × ${num(inputs.archFactor, 2)} (${inputs.arch}) ÷ ${num(vcpus, 3)} vCPU (${num(inputs.memoryMb)} MB ÷ ${num(A.fullVcpuMb)} MB)`
  )
  lambda("workers: I/O per chunk", (chunks * A.fitIoMs) / 1000, memoryGb, `${num(chunks)} chunks × ${A.fitIoMs} ms`)
  const containers = Math.min(chunks, inputs.workerConcurrency)
  lambda("workers: cold starts", containers * A.coldStartS, memoryGb, `min(${num(chunks)} chunks, ${num(inputs.workerConcurrency)} concurrent) = ${num(containers)} containers × ${A.coldStartS} s`)

  // Splitter: hash the cube, read it again to split it, write the payloads.
  const splitSeconds = inputs.runs * (A.stageStartS + (3 * cubeBytesPerRun) / (A.s3MBps * 1e6))
  lambda(
    "splitter",
    splitSeconds,
    A.splitterMemoryMb / 1024,
    `${num(inputs.runs)} run(s) × (${A.stageStartS} s + 3 × ${num(cubeBytesPerRun / 1e6, 1)} MB ÷ ${A.s3MBps} MB/s: hash, read, write)`
  )
  // Catalog: read every chunk's Parquet, write the compacted parts (single-threaded decode/encode).
  const catalogVcpus = Math.min(1, A.catalogMemoryMb / A.fullVcpuMb)
  const resultBytesPerRun = resultBytes / inputs.runs
  const catalogCpuS = (spectraPerRun * inputs.catalogCpuMsPerRow * inputs.archFactor) / 1000 / catalogVcpus
  lambda(
    "catalog",
    inputs.runs * (A.stageStartS + (2 * resultBytesPerRun) / (A.s3MBps * 1e6) + catalogCpuS),
    A.catalogMemoryMb / 1024,
    `${num(inputs.runs)} run(s) × (${A.stageStartS} s + 2 × ${num(resultBytesPerRun / 1e6, 2)} MB ÷ ${A.s3MBps} MB/s + ${num(spectraPerRun)} rows × ${num(inputs.catalogCpuMsPerRow, 4)} ms × ${num(inputs.archFactor, 2)})`
  )

  const invocations = chunks + inputs.runs * PER_RUN.invocations
  items.push({
    service: "Lambda",
    name: "requests",
    quantity: invocations,
    unit: "requests",
    unitPrice: prices.lambda.perMillionRequests / 1e6,
    cost: (invocations * prices.lambda.perMillionRequests) / 1e6,
    arithmetic: `${num(chunks)} fit + ${num(inputs.runs)} × ${PER_RUN.invocations} (splitter, catalog) = ${num(invocations)} invocations × ${price(prices.lambda.perMillionRequests)}/million`
  })

  const sends = inputs.runs * Math.ceil(chunksPerRun / 10)
  const sqs = chunks * PER_CHUNK.sqsRequests + sends + inputs.runs * PER_RUN.sqsRequests
  items.push({
    service: "SQS",
    name: "requests",
    quantity: sqs,
    unit: "requests",
    unitPrice: prices.sqs.perMillionRequests / 1e6,
    cost: (sqs * prices.sqs.perMillionRequests) / 1e6,
    arithmetic: `${num(chunks)} chunks × ${PER_CHUNK.sqsRequests} (receive, delete) + ${num(sends)} batched sends + ${num(inputs.runs)} × ${PER_RUN.sqsRequests} (catalog) = ${num(sqs)} × ${price(prices.sqs.perMillionRequests)}/million`
  })

  const wru = chunks * PER_CHUNK.writeUnits + inputs.runs * PER_RUN.writeUnits
  items.push({
    service: "DynamoDB",
    name: "writes (on-demand)",
    quantity: wru,
    unit: "WRU",
    unitPrice: prices.dynamodb.perMillionWriteUnits / 1e6,
    cost: (wru * prices.dynamodb.perMillionWriteUnits) / 1e6,
    arithmetic: `${num(chunks)} chunks × ${PER_CHUNK.writeUnits} WRU (chunk item 1, claim 1, journal 2, completion transaction 2 items × 2) + ${num(inputs.runs)} × ${PER_RUN.writeUnits} per run = ${num(wru)} WRU × ${price(prices.dynamodb.perMillionWriteUnits)}/million`
  })
  const rru = chunks * PER_CHUNK.readUnits + inputs.runs * PER_RUN.readUnits
  items.push({
    service: "DynamoDB",
    name: "reads (on-demand)",
    quantity: rru,
    unit: "RRU",
    unitPrice: prices.dynamodb.perMillionReadUnits / 1e6,
    cost: (rru * prices.dynamodb.perMillionReadUnits) / 1e6,
    arithmetic: `${num(chunks)} chunks × ${PER_CHUNK.readUnits} RRU (journal 2, run 1) + ${num(inputs.runs)} × ${PER_RUN.readUnits} per run = ${num(rru)} RRU × ${price(prices.dynamodb.perMillionReadUnits)}/million`
  })

  const uploadPuts = cubeBytesPerRun > MULTIPART_THRESHOLD ? Math.ceil(cubeBytesPerRun / PART_BYTES) + 2 : 1
  const parts = Math.ceil(spectraPerRun / ROWS_PER_PART)
  const puts = chunks * PER_CHUNK.puts + inputs.runs * (PER_RUN.puts + uploadPuts + parts) + inputs.queries * ATHENA_PUTS_PER_QUERY
  items.push({
    service: "S3",
    name: "PUT, LIST",
    quantity: puts,
    unit: "requests",
    unitPrice: prices.s3.perThousandPuts / 1000,
    cost: (puts * prices.s3.perThousandPuts) / 1000,
    arithmetic:
      `${num(chunks)} chunks × ${PER_CHUNK.puts} (payload, Parquet) + ${num(inputs.runs)} × (${PER_RUN.puts} + ${uploadPuts} cube upload + ${parts} result part) + ` +
      `${num(inputs.queries)} queries × ${ATHENA_PUTS_PER_QUERY} = ${num(puts)} × ${price(prices.s3.perThousandPuts)}/1,000`
  })
  const hashGets = Math.ceil(cubeBytesPerRun / HASH_READ_BYTES)
  const splitGets = Math.ceil(chunksPerRun / SPLIT_CHUNKS_PER_BLOCK) * inputs.channels
  const athenaGets = inputs.queries * inputs.runs * parts * ATHENA_GETS_PER_FILE
  const gets = chunks * PER_CHUNK.gets + inputs.runs * (PER_RUN.gets + hashGets + splitGets) + athenaGets
  items.push({
    service: "S3",
    name: "GET",
    quantity: gets,
    unit: "requests",
    unitPrice: prices.s3.perThousandGets / 1000,
    cost: (gets * prices.s3.perThousandGets) / 1000,
    arithmetic:
      `${num(chunks)} chunks × ${PER_CHUNK.gets} (payload, Parquet) + ${num(inputs.runs)} × (${PER_RUN.gets} header + ${num(hashGets)} hash + ` +
      `${num(Math.ceil(chunksPerRun / SPLIT_CHUNKS_PER_BLOCK))} blocks × ${num(inputs.channels)} channels split) + ${num(athenaGets)} Athena = ${num(gets)} × ${price(prices.s3.perThousandGets)}/1,000`
  })

  const scanned = Math.max(resultBytes, prices.athena.minimumBytesPerQuery)
  const athenaBytes = inputs.queries * scanned
  items.push({
    service: "Athena",
    name: "data scanned",
    quantity: athenaBytes / 1e12,
    unit: "TB",
    unitPrice: prices.athena.perTbScanned,
    cost: (athenaBytes / 1e12) * prices.athena.perTbScanned,
    arithmetic:
      `${num(inputs.queries)} queries × max(${num(inputs.spectra)} rows × ${num(inputs.resultBytesPerSpectrum)} B = ${num(resultBytes / 1e6, 1)} MB, 10 MB minimum) = ` +
      `${num(athenaBytes / 1e9, 3)} GB × ${price(prices.athena.perTbScanned)}/TB`
  })

  const logBytes = invocations * A.logBytesPerInvocation
  items.push({
    service: "CloudWatch Logs",
    name: "ingestion",
    quantity: gb(logBytes),
    unit: "GB",
    unitPrice: prices.logs.perGbIngested,
    cost: gb(logBytes) * prices.logs.perGbIngested,
    arithmetic: `${num(invocations)} invocations × ${A.logBytesPerInvocation} B = ${num(gb(logBytes), 4)} GB × ${price(prices.logs.perGbIngested)}/GB`
  })
  items.push({
    service: "EventBridge",
    name: "S3 events",
    quantity: inputs.runs,
    unit: "events",
    unitPrice: 0,
    cost: 0,
    arithmetic: `${num(inputs.runs)} manifest upload(s): events from AWS services are free`
  })

  const scratchBytes = cubeBytes + resultBytes
  const storedGbMonth = gb(cubeBytes + resultBytes) + gb(scratchBytes) * (SCRATCH_DAYS / 30)
  const storage: Item = {
    service: "S3",
    name: "storage, per month (not in the total)",
    quantity: storedGbMonth,
    unit: "GB-month",
    unitPrice: prices.s3.perGbMonth,
    cost: storedGbMonth * prices.s3.perGbMonth,
    arithmetic:
      `cubes ${num(gb(cubeBytes), 3)} GB + results ${num(gb(resultBytes), 3)} GB, + chunk payloads and Parquet ${num(gb(scratchBytes), 3)} GB for ${SCRATCH_DAYS} days = ` +
      `${num(storedGbMonth, 3)} GB-month × ${price(prices.s3.perGbMonth)}/GB-month`
  }

  return {
    inputs,
    derived: {
      spectraPerRun,
      chunksPerRun,
      chunks,
      vcpus,
      memoryGb,
      chunkSeconds: (inputs.chunkSize * inputs.cpuMsPerSpectrum * inputs.archFactor) / 1000 / vcpus + A.fitIoMs / 1000,
      cubeBytes,
      resultBytes
    },
    items,
    total: items.reduce((sum, i) => sum + i.cost, 0),
    storage,
    prices: { asOf: AS_OF, region: REGION }
  }
}

/** The estimate as text: one line per item with its cost, and its arithmetic under it. */
export const render = (e: Estimate): string => {
  const width = Math.max(...[...e.items, e.storage].map((i) => `${i.service} ${i.name}`.length)) + 2
  const lines: string[] = []
  const item = (i: Item) => {
    lines.push(`  ${`${i.service} ${i.name}`.padEnd(width)}${usd(i.cost).padStart(12)}`)
    lines.push(`      ${i.arithmetic} = ${usd(i.cost)}`)
  }
  for (const i of e.items) item(i)
  lines.push(`  ${"total".padEnd(width)}${usd(e.total).padStart(12)}`)
  lines.push(`      ${e.items.map((i) => usd(i.cost)).join(" + ")}`)
  lines.push("")
  item(e.storage)
  return lines.join("\n")
}
