/**
 * Wraps an async job so at most one run is in flight: a call during a run
 * makes exactly one more run after it (however many calls came), and every
 * caller's promise settles when the runs covering its call are done. For
 * reconcile loops and reloads triggered by bursts of events.
 */
export function coalesce(job: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await job();
      } while (again);
    })().finally(() => (running = undefined));
    return running;
  };
}
