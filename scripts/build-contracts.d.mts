/** Compiled contracts by source file and name, as solc's standard JSON gives them. */
export type CompiledContracts = Record<
  string,
  Record<
    string,
    { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }
  >
>
export const SOLC_VERSION: string
export const SETTINGS: { optimizer: { enabled: boolean; runs: number }; evmVersion: string }
export const CONTRACTS: string[]
export function compile(files: string[]): CompiledContracts
export function render(name: string, artifact: CompiledContracts[string][string]): string
export function generate(): Record<string, string>
