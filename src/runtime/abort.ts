// Waiting on work that cannot take an AbortSignal itself, but giving up on it when one aborts.

/**
 * `work`, or a rejection with `reason()` as soon as `signal` aborts (at once if it has). The
 * work itself goes on; its later failure is swallowed, since nobody waits for it any more.
 */
export async function untilAborted<T>(work: Promise<T>, signal: AbortSignal, reason: () => unknown): Promise<T> {
  work.catch(() => undefined);
  if (signal.aborted) throw reason();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(reason());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}
