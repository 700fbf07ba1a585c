/** The timing of the benchmarks here, as benchmarks/torch_timing.py times PyTorch's. */

/** Median wall time of `run` in ms over `repeats` runs after one warm-up; `run` must wait for the device. */
export function medianMs(run: () => void, repeats: number): number {
  run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

/** {@link medianMs} of an asynchronous `run` (one awaited call after another). */
export async function medianMsAsync(run: () => Promise<unknown>, repeats: number): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}
