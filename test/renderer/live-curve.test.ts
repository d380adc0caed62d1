import { describe, expect, it } from 'vitest'
import { LiveCurve } from '../../src/renderer/src/composables/live-curve'
import { curvesToCsv } from '../../src/renderer/src/composables/metrics'

const ramp = (n: number) => Array.from({ length: n }, (_, i) => ({ x: i / 100, loss: i, acc: 1 }))

describe('LiveCurve', () => {
  it('a LiveCurve stays bounded and keeps the shape of what was pushed', () => {
    const c = new LiveCurve(100)
    for (const p of ramp(10_000)) c.push(p)
    expect(c.points.length).toBeLessThanOrEqual(100)
    expect(c.points.length).toBeGreaterThan(40)
    expect(c.generation).toBeGreaterThan(0)
    const last = c.points[c.points.length - 1]
    expect(last.loss).toBeGreaterThan(9000)
    expect(c.points.every((p, i) => i === 0 || p.loss > c.points[i - 1].loss)).toBe(true)
  })
})

describe('metrics', () => {
  it('metrics CSV has a header, one row per epoch and one per step', () => {
    const csv = curvesToCsv({
      epochs: [{ epoch: 1, trainLoss: 0.5, trainAcc: 0.8, valLoss: 0.4, valAcc: 0.85, seconds: 2, examplesPerSec: 100 }],
      steps: [{ x: 0.5, loss: 0.7, acc: 0.6 }]
    })
    const lines = csv.trim().split('\n')
    expect(lines[0]).toBe('kind,epoch,x,train_loss,train_acc,val_loss,val_acc,seconds,examples_per_sec')
    expect(lines[1]).toBe('epoch,1,1,0.5,0.8,0.4,0.85,2,100')
    expect(lines[2]).toBe('step,1,0.5,0.7,0.6,,,,')
  })
})
