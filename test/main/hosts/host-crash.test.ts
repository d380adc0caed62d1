// kill -9 of the host process mid-epoch: the web server runs as a child process with its training
// process under it; the server is SIGKILLed while epoch 2 trains. Reopening the data folder must find an
// intact database, the run 'interrupted', its finished epoch recorded and its best checkpoint loadable.
// The orphaned training process must stop by itself.
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, expect, it } from 'vitest'
import { RunStore } from '../../../src/main/services/runs'
import { tsxLoaderUrl } from '../../../src/main/services/training'
import { modelFromArtifacts } from '../../../src/core/models/io'
import { tempDir, tinyConfig, WireClient } from '../../helpers/hosts'

const dir = tempDir()
let server: ChildProcess | null = null

afterAll(() => {
  if (server && server.exitCode === null) server.kill('SIGKILL')
  dir.remove()
})

/** Children of a pid, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) out.push(Number(name))
    } catch {
      // The process ended while we looked.
    }
  }
  return out
}

it('survives kill -9 of the host mid-epoch: integrity ok, run interrupted, finished epoch and best weights kept', async () => {
  const dataDir = join(dir.path, 'data')
  server = spawn(process.execPath, ['--import', tsxLoaderUrl(), 'src/main/server.ts', '--port', '0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const url = await new Promise<string>((resolve, reject) => {
    let text = ''
    server?.stdout?.on('data', (d: Buffer) => {
      text += d.toString()
      const m = /web mode: (http:\/\/\S+)/.exec(text)
      if (m) resolve(m[1])
    })
    server?.once('exit', (code) => reject(new Error(`server exited with ${code}: ${text}`)))
  })
  const page = new URL(url)
  const client = await WireClient.connect(`ws://${page.host}/ws?token=${page.searchParams.get('token')}`, { Origin: `http://${page.host}` })
  const run = await client.value('training.start', { config: tinyConfig({ epochs: 30, trainLimit: 2048 }) })
  await client.waitFor((e) => e.event === 'training.epoch' && e.payload.runId === run.id, 120_000)
  await client.waitFor((e) => e.event === 'training.batch' && e.payload.runId === run.id && Number(e.payload.epoch) === 2, 60_000)

  const hostPid = server.pid as number
  const trainers = childrenOf(hostPid)
  expect(trainers.length).toBeGreaterThan(0)
  const exited = new Promise((resolve) => server?.once('exit', resolve))
  process.kill(hostPid, 'SIGKILL')
  await exited
  client.close()
  // An orphaned trainer notices its host is gone (IPC disconnect) and stops on its own.
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  const deadline = Date.now() + 10_000
  while (trainers.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  const orphans = trainers.filter(alive)
  for (const pid of orphans) process.kill(pid, 'SIGKILL')
  expect(orphans).toEqual([])

  const store = RunStore.open(dataDir)
  try {
    expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok')
    const after = store.get(run.id)
    expect(after.status).toBe('interrupted')
    expect(after.epochsDone).toBeGreaterThanOrEqual(1)
    expect(store.curves(run.id).epochs.length).toBe(after.epochsDone)

    const best = store.weightsDir(run.id, 'best')
    const modelJson = JSON.parse(readFileSync(join(best, 'model.json'), 'utf8')) as {
      modelTopology: object
      weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[]
    }
    const bytes = readFileSync(join(best, modelJson.weightsManifest[0].paths[0]))
    const model = await modelFromArtifacts({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest[0].weights,
      weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
    })
    const out = model.predict(tf.zeros([1, 28, 28, 1])) as tf.Tensor
    expect(out.shape).toEqual([1, 10])
    expect(Array.from(out.dataSync()).every(Number.isFinite)).toBe(true)
  } finally {
    store.close()
  }
}, 240_000)
