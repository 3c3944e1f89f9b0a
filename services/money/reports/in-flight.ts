/**
 * Work being done, shared with whoever asks for the same meanwhile: the same yearly report asked
 * by the page, then its CSV and XLSX, or by several people in January, is computed once. Once it
 * ends (done or failed) the next ask computes afresh; nothing is kept (closed-reports.ts keeps).
 */
export function inFlight<T>(): (key: string, compute: () => Promise<T>) => Promise<T> {
  const running = new Map<string, Promise<T>>();
  return (key, compute) => {
    let p = running.get(key);
    if (!p) {
      p = compute().finally(() => running.delete(key));
      running.set(key, p);
    }
    return p;
  };
}
