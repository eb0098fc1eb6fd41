export { classify, VERSION } from "./main.js"
