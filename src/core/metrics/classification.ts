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

export function accuracyFromConfusion(m: number[][]): number {
  let right = 0
  let all = 0
  m.forEach((row, t) => row.forEach((n, p) => {
    all += n
    if (t === p) right += n
  }))
  return all === 0 ? 0 : right / all
}

/** Per class: of the examples predicted as c, the share that are c. 0 when nothing was predicted as c. */
export function precisionPerClass(m: number[][]): number[] {
  return m.map((_, c) => {
    let predicted = 0
    for (const row of m) predicted += row[c]
    return predicted === 0 ? 0 : m[c][c] / predicted
  })
}

/** Per class: of the examples of class c, the share predicted as c. 0 when the class has no examples. */
export function recallPerClass(m: number[][]): number[] {
  return m.map((row, c) => {
    const actual = row.reduce((s, n) => s + n, 0)
    return actual === 0 ? 0 : row[c] / actual
  })
}
