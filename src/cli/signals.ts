// Long-running commands (`get --watch`, `logs -f`, `watch`) end on Ctrl-C or SIGTERM, or when their own
// stream ends (`stop`), and then clean up: this is the one place that waits for that.

export function untilInterrupted(stop?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      stop?.removeEventListener('abort', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
    if (stop?.aborted) done();
    else stop?.addEventListener('abort', done);
  });
}
