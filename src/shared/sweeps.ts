// Sweeps (issue 19): one base config, a grid and/or random ranges over train options, and seeds;
// expanded into runs queued under one sweep. Keys are `conv-studio train`'s option names.
import { z } from 'zod'
import { RunIdSchema, TrainConfigSchema } from './schemas'
import type { RunRecord } from './domain'

/** Train options a sweep may vary, by their CLI names. */
export const SweepKeySchema = z.enum(['lr', 'batch-size', 'optimizer', 'momentum', 'weight-decay', 'epochs', 'model', 'schedule', 'val-split', 'init', 'patience', 'train-limit', 'seed'])
export type SweepKey = z.infer<typeof SweepKeySchema>
/** Keys with a continuous range, for --random. */
export const RandomKeySchema = z.enum(['lr', 'momentum', 'weight-decay', 'val-split'])

/** Most runs one sweep may queue. */
export const MAX_SWEEP_RUNS = 500

export const SweepSpecSchema = z
  .object({
    name: z.string().min(1).max(120).optional(),
    base: TrainConfigSchema,
    grid: z
      .array(z.object({ key: SweepKeySchema, values: z.array(z.union([z.string().min(1).max(100), z.number()])).min(1).max(50) }).strict())
      .max(8)
      .default([]),
    random: z.array(z.object({ key: RandomKeySchema, lo: z.number(), hi: z.number(), log: z.boolean().default(false) }).strict()).max(8).default([]),
    /** Random draws (each over every random key), crossed with the grid. */
    trials: z.int().min(1).max(MAX_SWEEP_RUNS).default(1),
    seeds: z.array(z.int().min(0).max(2 ** 31 - 1)).min(1).max(50).optional()
  })
  .strict()
export type SweepSpec = z.infer<typeof SweepSpecSchema>
export type SweepSpecInput = z.input<typeof SweepSpecSchema>

export type SweepStatus = 'running' | 'completed' | 'cancelled'

export interface SweepInfo {
  id: number
  name: string
  createdAt: string
  cancelledAt: string | null
  status: SweepStatus
  runs: number
  /** Runs by status. */
  counts: Record<string, number>
  /** The keys it varies, in spec order. */
  keys: string[]
}

export interface SweepRunRow {
  run: RunRecord
  /** Each varied key's value for this run, by key. */
  values: Record<string, string | number>
}

export interface SweepDetail {
  sweep: SweepInfo
  spec: SweepSpec
  runs: SweepRunRow[]
}

export const SweepRefSchema = z.object({ sweepId: RunIdSchema }).strict()
