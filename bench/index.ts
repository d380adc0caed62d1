// `npm run bench`: every benchmark of the project in one run, each printing its own table, then
// one JSON object with all figures. Benchmarks are not tests: nothing here asserts a timing.
// `npm run bench -- data store` runs only the named ones.
const suites: Record<string, () => Promise<{ run: () => Promise<Record<string, unknown>> }>> = {
  data: () => import('./data'),
  images: () => import('./images'),
  store: () => import('./store'),
  predict: () => import('./predict'),
  inspect: () => import('./inspect'),
  backends: () => import('./backends'),
  training: () => import('./training')
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'))
  const unknown = wanted.filter((name) => !(name in suites))
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`)
    process.exit(2)
  }
  const names = wanted.length > 0 ? wanted : Object.keys(suites)
  const figures: Record<string, unknown> = {}
  for (const name of names) {
    console.log(`\n=== ${name} ===`)
    try {
      const suite = await suites[name]()
      figures[name] = await suite.run()
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      console.error(`${name}: failed: ${message}`)
      figures[name] = { error: message }
    }
  }
  console.log('\nBENCH_JSON ' + JSON.stringify(figures))
}

void main()
