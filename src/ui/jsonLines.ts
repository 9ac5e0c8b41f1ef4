/** NDJSON on stdout: one JSON value per line (synchronous on Linux pipes and files). */
export function writeJsonLine(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n')
}
