/**
 * Runs `pass` again and again: at once after a pass that did a full load of work (more may be
 * waiting), otherwise after `pollMs`. A failed pass is reported and the next one tries again.
 * `stop` waits for the pass in progress.
 */
export const createPoller = (deps: { pass: () => Promise<number>; pollMs: number; full: number; onError: (error: unknown) => void }) => {
  let stopped = true;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  const loop = async (): Promise<void> => {
    let done = 0;
    try {
      done = await deps.pass();
    } catch (error) {
      deps.onError(error);
    }
    if (stopped) return;
    timer = setTimeout(() => (running = loop()), done >= deps.full ? 0 : deps.pollMs);
  };

  return {
    start(): void {
      if (!stopped) return;
      stopped = false;
      running = loop();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
};
