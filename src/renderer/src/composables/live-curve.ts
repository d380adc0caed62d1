import type { StepPoint } from '../../../shared/domain'

/**
 * A live curve that stays at most `max` points: when full, adjacent pairs are merged in place, so
 * appending stays amortised O(1) and a chart can be rebuilt from it in bounded time.
 */
export class LiveCurve {
  readonly points: StepPoint[] = []
  /** How many raw points each stored point averages (doubles at each merge). */
  weight = 1
  private pending: StepPoint | null = null
  private pendingCount = 0
  /** Bumped on every merge: a chart that mirrors `points` must rebuild rather than append. */
  generation = 0

  constructor(private readonly max = 2000) {}

  push(p: StepPoint): void {
    if (this.weight === 1) {
      this.points.push({ ...p })
    } else {
      if (!this.pending) {
        this.pending = { x: 0, loss: 0, acc: 0 }
        this.pendingCount = 0
      }
      this.pending.x += p.x
      this.pending.loss += p.loss
      this.pending.acc += p.acc
      this.pendingCount++
      if (this.pendingCount < this.weight) return
      const n = this.pendingCount
      this.points.push({ x: this.pending.x / n, loss: this.pending.loss / n, acc: this.pending.acc / n })
      this.pending = null
    }
    if (this.points.length >= this.max) this.merge()
  }

  private merge(): void {
    const merged: StepPoint[] = []
    for (let i = 0; i + 1 < this.points.length; i += 2) {
      const a = this.points[i]
      const b = this.points[i + 1]
      merged.push({ x: (a.x + b.x) / 2, loss: (a.loss + b.loss) / 2, acc: (a.acc + b.acc) / 2 })
    }
    if (this.points.length % 2 === 1) merged.push(this.points[this.points.length - 1])
    this.points.splice(0, this.points.length, ...merged)
    this.weight *= 2
    this.generation++
  }
}
