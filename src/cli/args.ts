import { BaseError } from '../errors/base.js'

/** A flag or command the CLI does not understand. */
export class UsageError extends BaseError {
  override name = 'UsageError' as const
}

export const USAGE = `usage: tributary <command> [flags]

commands:
  demo      run the local marketplace: devnet, catalog models served and published, a paid
            document-intelligence workflow settled in one transaction, the royalty table
            --json          print one JSON object with the facts (and nothing else on stdout)
            --image <png>   run the workflow on this PNG instead of the bundled document
            --keep          keep the devnet and the provider running until Ctrl-C
  help      this text`

export type DemoFlags = { json: boolean; keep: boolean; image?: string | undefined }

/** Parses `argv` (without node and the script) into a command and its flags, or throws a UsageError. */
export function parseArgs(
  argv: readonly string[],
): { command: 'demo'; flags: DemoFlags } | { command: 'help' } {
  const [command = 'help', ...rest] = argv
  if (command === 'help' || command === '--help' || command === '-h') return { command: 'help' }
  if (command !== 'demo') throw new UsageError(`unknown command "${command}"`, { metaMessages: [USAGE] })
  const flags: DemoFlags = { json: false, keep: false }
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string
    if (a === '--json') flags.json = true
    else if (a === '--keep') flags.keep = true
    else if (a === '--image') {
      const v = rest[++i]
      if (!v || v.startsWith('--'))
        throw new UsageError('--image needs a path to a PNG file', { metaMessages: [USAGE] })
      flags.image = v
    } else throw new UsageError(`unknown flag "${a}" for demo`, { metaMessages: [USAGE] })
  }
  if (flags.json && flags.keep)
    throw new UsageError('--json and --keep cannot be combined', { metaMessages: [USAGE] })
  return { command: 'demo', flags }
}
