export { VERSION } from "./Commands.js"
export { classify } from "./Failure.js"
