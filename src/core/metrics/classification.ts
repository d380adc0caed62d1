// Classification metrics on plain arrays (no tensors): they run on what the trainer reads back
// once per evaluation, and on predictions stored with a run.

function checkInputs(labels: ArrayLike<number>, predictions: ArrayLike<number>, numClasses: number): void {
  if (labels.length !== predictions.length) {
    throw new RangeError(`metrics: ${labels.length} labels but ${predictions.length} predictions`)
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`metrics: numClasses must be a positive integer, got ${numClasses}`)
}

/** matrix[true][predicted]: how many examples of each true class went to each predicted class. */
export function confusionMatrix(labels: ArrayLike<number>, predictions: ArrayLike<number>, numClasses: number): number[][] {
  checkInputs(labels, predictions, numClasses)
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0))
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i]
    const p = predictions[i]
    if (t < 0 || t >= numClasses || p < 0 || p >= numClasses || !Number.isInteger(t) || !Number.isInteger(p)) {
      throw new RangeError(`metrics: example ${i} has label ${t} / prediction ${p}, outside 0..${numClasses - 1}`)
    }
    m[t][p]++
  }
  return m
}

export function accuracy(labels: ArrayLike<number>, predictions: ArrayLike<number>): number {
  checkInputs(labels, predictions, 1)
  if (labels.length === 0) return 0
  let right = 0
  for (let i = 0; i < labels.length; i++) if (labels[i] === predictions[i]) right++
  return right / labels.length
}

/** The share of all examples on the diagonal; null for an empty matrix (nothing was evaluated). */
export function accuracyFromConfusion(m: number[][]): number | null {
  let right = 0
  let all = 0
  m.forEach((row, t) =>
    row.forEach((n, p) => {
      all += n
      if (t === p) right += n
    })
  )
  return all === 0 ? null : right / all
}

export interface ClassMetrics {
  /** Of the examples predicted as c, the share that are c; null when nothing was predicted as c. */
  precision: (number | null)[]
  /** Of the examples of class c, the share predicted as c; null when the class has no examples. */
  recall: (number | null)[]
  /** How many examples of each class there are. */
  support: number[]
}

/** Per-class metrics from matrix[true][predicted]. An undefined ratio is null, never 0: a class the
    model never predicts is not the same as one it always gets wrong. */
export function classMetrics(m: number[][]): ClassMetrics {
  const precision: (number | null)[] = []
  const recall: (number | null)[] = []
  const support: number[] = []
  for (let c = 0; c < m.length; c++) {
    let row = 0
    let col = 0
    for (let k = 0; k < m.length; k++) {
      row += m[c][k]
      col += m[k][c]
    }
    support.push(row)
    recall.push(row === 0 ? null : m[c][c] / row)
    precision.push(col === 0 ? null : m[c][c] / col)
  }
  return { precision, recall, support }
}
