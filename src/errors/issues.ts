/** One validation problem, as zod reports it: where (`path`) and what (`message`). */
export type ValidationIssue = {
  readonly path: readonly PropertyKey[]
  readonly message: string
  readonly code?: string | undefined
}

/** Issues as meta lines of an error message: `- path.to.field: what is wrong`. */
export function formatIssues(issues: readonly ValidationIssue[]): string[] {
  return issues.map((i) => `- ${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
}
