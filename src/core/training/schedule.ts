// Learning rate per epoch, stepped once per epoch as PyTorch's StepLR / CosineAnnealingLR(T_max =
// epochs) are in the tutorials' loops.
import type { TrainConfig } from '../../shared/schemas'

/** Learning rate used throughout epoch `epoch` (1-based). */
export function learningRateAt(config: Pick<TrainConfig, 'lr' | 'schedule' | 'epochs'>, epoch: number): number {
  const e = epoch - 1
  const s = config.schedule
  switch (s.type) {
    case 'constant':
      return config.lr
    case 'step':
      return config.lr * Math.pow(s.gamma, Math.floor(e / s.stepEpochs))
    case 'cosine': {
      const minLr = s.minLr ?? 0
      if (config.epochs <= 1) return config.lr
      return minLr + ((config.lr - minLr) * (1 + Math.cos((Math.PI * e) / config.epochs))) / 2
    }
  }
}
