/**
 * The page's files (hand-written HTML, CSS and JavaScript; no framework, nothing fetched
 * from elsewhere), read once at start from src/view/assets next to this module's source.
 */
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"

export interface Asset {
  readonly path: string
  readonly contentType: string
  readonly body: string
}

const FILES = [
  { path: "/", file: "index.html", contentType: "text/html; charset=utf-8" },
  { path: "/assets/app.js", file: "app.js", contentType: "text/javascript; charset=utf-8" },
  { path: "/assets/style.css", file: "style.css", contentType: "text/css; charset=utf-8" }
] as const

/** dist/view/Assets.js and src/view/Assets.ts both find the files in src/view/assets. */
const directory = () => fileURLToPath(new URL("../../src/view/assets/", import.meta.url))

export const load = (): ReadonlyArray<Asset> =>
  FILES.map((f) => ({ path: f.path, contentType: f.contentType, body: fs.readFileSync(`${directory()}${f.file}`, "utf8") }))
