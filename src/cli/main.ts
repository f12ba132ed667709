import { BaseError } from '../errors/base.js'
import { parseArgs, USAGE, UsageError } from './args.js'
import { runDemo } from './demo.js'

async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs(argv)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`)
      return 2
    }
    throw err
  }
  if (parsed.command === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const result = await runDemo(parsed.flags)
  return result.ok ? 0 : 1
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    // a typed error says what to do (and so do its causes); anything else is a bug worth its stack
    const lines = [
      err instanceof BaseError
        ? err.message
        : err instanceof Error
          ? (err.stack ?? err.message)
          : String(err),
    ]
    for (
      let e = err instanceof Error ? err.cause : undefined, depth = 0;
      e instanceof Error && depth < 6;
      e = e.cause, depth++
    ) {
      lines.push(`  caused by ${e.name}: ${e instanceof BaseError ? e.shortMessage : e.message}`)
    }
    process.stderr.write(`${lines.join('\n')}\n`)
    process.exitCode = 1
  },
)
