/**
 * Minimum-cost one-to-one assignment between the rows and the columns of a cost matrix
 * (the Hungarian method with row and column potentials): min(rows, cols) pairs whose total
 * cost is least, as the Lindner et al. (2015) scorer pairs true and detected components.
 *
 * @since 0.1.0
 */

/**
 * For each row, the column it is paired with, or -1 (only when there are more rows than
 * columns). `cost[i][j]` must be finite.
 *
 * @since 0.1.0
 * @category scoring
 */
export const assign = (cost: ReadonlyArray<ReadonlyArray<number>>): Int32Array => {
  const rows = cost.length
  const cols = rows === 0 ? 0 : cost[0].length
  const out = new Int32Array(rows).fill(-1)
  if (rows === 0 || cols === 0) return out
  if (rows > cols) {
    // Pair every column with a row instead, then read the pairs back.
    const byColumn = assign(Array.from({ length: cols }, (_, j) => Array.from({ length: rows }, (_, i) => cost[i][j])))
    byColumn.forEach((row, col) => {
      if (row >= 0) out[row] = col
    })
    return out
  }
  // Rows are added one at a time; each addition finds the cheapest augmenting path in the
  // reduced costs cost[i][j] − rowPot[i] − colPot[j], which stay non-negative. Index 0 of the
  // column arrays is a virtual column holding the row being added.
  const rowPot = new Float64Array(rows + 1)
  const colPot = new Float64Array(cols + 1)
  const rowOfCol = new Int32Array(cols + 1) // 1-based row, 0 = free
  const previous = new Int32Array(cols + 1)
  for (let added = 1; added <= rows; added++) {
    rowOfCol[0] = added
    const slack = new Float64Array(cols + 1).fill(Number.POSITIVE_INFINITY)
    const visited = new Uint8Array(cols + 1)
    let col = 0
    while (rowOfCol[col] !== 0) {
      visited[col] = 1
      const row = rowOfCol[col]
      let best = Number.POSITIVE_INFINITY
      let next = -1
      for (let j = 1; j <= cols; j++) {
        if (visited[j] === 1) continue
        const reduced = cost[row - 1][j - 1] - rowPot[row] - colPot[j]
        if (reduced < slack[j]) {
          slack[j] = reduced
          previous[j] = col
        }
        if (slack[j] < best) {
          best = slack[j]
          next = j
        }
      }
      for (let j = 0; j <= cols; j++) {
        if (visited[j] === 1) {
          rowPot[rowOfCol[j]] += best
          colPot[j] -= best
        } else slack[j] -= best
      }
      col = next
    }
    // Flip the path back to the virtual column.
    while (col !== 0) {
      const back = previous[col]
      rowOfCol[col] = rowOfCol[back]
      col = back
    }
  }
  for (let j = 1; j <= cols; j++) if (rowOfCol[j] > 0) out[rowOfCol[j] - 1] = j - 1
  return out
}
