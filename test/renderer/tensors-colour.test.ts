// How the inspection views paint a colour input ([3, H, W], as inspect.example answers for a run on
// a photo set): the picture in colour, and Grad-CAM laid over the picture in colour, not over its
// red plane shown as gray (test/main/datasets/colour-inspect.test.ts checks the tensor itself).
import { describe, expect, it } from 'vitest'
import { paintPixels } from '../../src/renderer/src/composables/tensors'

// A 2x1 colour input, planes R, G, B: an orange pixel (1, 0.5, 0) and a blue one (0, 0, 1).
const input = Float32Array.from([1, 0, 0.5, 0, 0, 1])

describe('painting a colour input', () => {
  it('paints the three planes as one colour picture', () => {
    const px = paintPixels(input, 2, 1, { min: 0, max: 1, map: 'gray', channels: 3 })
    expect([...px]).toEqual([255, 128, 0, 255, 0, 0, 255, 255])
  })

  it('lays Grad-CAM over the colour picture: where the heat is zero the picture shows as it is', () => {
    const cam = Float32Array.from([0, 0])
    const px = paintPixels(cam, 2, 1, { min: 0, max: 1, map: 'heat', base: input, baseRange: { min: 0, max: 1 }, baseChannels: 3 })
    expect([...px]).toEqual([255, 128, 0, 255, 0, 0, 255, 255])
    // A gray base (one plane) keeps the old look: the first plane as gray.
    const gray = paintPixels(cam, 2, 1, { min: 0, max: 1, map: 'heat', base: input, baseRange: { min: 0, max: 1 } })
    expect([...gray]).toEqual([255, 255, 255, 255, 0, 0, 0, 255])
  })

  it('blends the heat in by its strength over the colour', () => {
    const cam = Float32Array.from([1, 0])
    const px = paintPixels(cam, 2, 1, { min: 0, max: 1, map: 'heat', base: input, baseRange: { min: 0, max: 1 }, baseChannels: 3 })
    // Full heat is the ramp's top (253, 231, 37) at 70% over orange (255, 127.5, 0).
    expect([...px.slice(0, 3)]).toEqual([Math.round(255 * 0.3 + 253 * 0.7), Math.round(127.5 * 0.3 + 231 * 0.7), Math.round(37 * 0.7)])
    expect([...px.slice(4, 8)]).toEqual([0, 0, 255, 255])
  })
})
