// A task asked for in bursts, run at most once at a time: an ask while it runs
// makes it run once more afterwards, however many asks came meanwhile. An
// upstream that sends list_changed a thousand times in a row (some send one
// per call) had its list read a thousand times; now twice.

/** `task` behind a latch: call the result to ask for a run. `task` reports its own failures; a throw is dropped so the latch stays usable. */
export function coalesced(task: () => Promise<void>): () => void {
  let running = false;
  let again = false;
  const run = async (): Promise<void> => {
    running = true;
    do {
      again = false;
      await task().catch(() => undefined);
    } while (again as boolean);
    running = false;
  };
  return () => {
    if (running) again = true;
    else void run();
  };
}
