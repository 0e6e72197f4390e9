// Measures the initial bundle (what index.html loads before any page chunk) gzipped, and fails
// above the budget of 300 KB. Run after `npm run build`.
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const BUDGET = 300 * 1024
const html = readFileSync('dist/index.html', 'utf8')
const assets = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1])
let total = 0
for (const asset of assets) {
  const size = gzipSync(readFileSync(`dist/${asset}`), { level: 9 }).length
  total += size
  console.log(`${(size / 1024).toFixed(1).padStart(8)} KB  ${asset}`)
}
console.log(`${(total / 1024).toFixed(1).padStart(8)} KB  initial bundle, gzipped (budget ${BUDGET / 1024} KB)`)
if (total > BUDGET) {
  console.error('initial bundle over budget')
  process.exit(1)
}
