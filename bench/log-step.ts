/** Log a progress line on stderr with the wall-clock time (stdout keeps the tables). */
export function logStep(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
