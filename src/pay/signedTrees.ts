import type { Address, Hex } from 'viem'
import { decodeNode, hashPair, MAX_PROOF } from './merkle.js'
import { MalformedSignatureError } from './voucher.js'

/** What a leaf signed in a batch proves: who signed the batch, and its root. */
export type SignedTreeProof = { readonly signer: Address; readonly root: Uint8Array; readonly rootHex: Hex }

/**
 * Batch signatures already recovered, with every node proven under each: the vouchers (or receipts) of one
 * batch arrive call after call with the same signature and overlapping proofs, so only the first is recovered
 * and folded to the root; the others stop at the first node of their path that an earlier one proved.
 */
export type SignedTrees = {
  /**
   * The signer and root of a leaf signed in a batch. The leaf's proof is folded to the root (sorted-pair
   * keccak256) and `recover` names who signed that root, once per signature; a later leaf whose path meets a
   * node already proven under the same signature, with the same proof from there up, is proven there. Undefined
   * when `recover` is (no native binding). Throws `MalformedSignatureError` for a proof that is not a list of
   * at most 32 hashes of 32 bytes in hex.
   */
  prove(
    leaf: Uint8Array,
    proof: readonly Hex[],
    signature: Hex,
    recover: (root: Uint8Array, signature: Hex) => Address | undefined,
  ): SignedTreeProof | undefined
  /** Signatures held. */
  readonly size: number
  clear(): void
}

/** A node's proof up to its root: `head` (when set), then `proof` from index `from`. */
type Path = { readonly head: Hex | undefined; readonly proof: readonly Hex[]; readonly from: number }
type Tree = SignedTreeProof & { readonly top: string; readonly nodes: Map<string, Path> }

// Reused for every node turned into hex (read at once).
const scratch = Buffer.allocUnsafe(32)
const hexOf = (node: Uint8Array) => {
  scratch.set(node)
  return scratch.toString('hex')
}

/** Whether `proof` from index `at` is exactly the path `p`. */
function follows(p: Path, proof: readonly Hex[], at: number): boolean {
  let i = at
  if (p.head !== undefined) {
    if (proof[i] !== p.head) return false
    i++
  }
  if (proof.length - i !== p.proof.length - p.from) return false
  for (let j = p.from; i < proof.length; i++, j++) if (proof[i] !== p.proof[j]) return false
  return true
}

/**
 * Creates a cache of recovered batch signatures (at most `trees` of them, each with at most `nodes` proven
 * nodes; it starts over when full). `what` names the leaves in error messages.
 *
 * @example
 * ```ts
 * const trees = createSignedTrees()
 * const r = trees.prove(leaf, proof, signature, (root) => recoverDigestSignerNative(batchDigest(root), signature))
 * ```
 */
export function createSignedTrees(
  options: { what?: string; trees?: number; nodes?: number } = {},
): SignedTrees {
  const what = options.what ?? 'batch'
  const maxTrees = options.trees ?? 1_024
  const maxNodes = options.nodes ?? 4_096
  const bySignature = new Map<string, Tree>()

  /** Records the nodes of a path walked from the leaf up to (not including) level `upto`, and their siblings. */
  const record = (tree: Tree, walked: readonly string[], proof: readonly Hex[], upto: number) => {
    if (tree.nodes.size >= maxNodes) return
    for (let j = 0; j < upto; j++) {
      const node = walked[j] as string
      tree.nodes.set(node, { head: undefined, proof, from: j })
      // the sibling's path goes through this node's parent: this node, then the rest of the proof
      tree.nodes.set((proof[j] as Hex).slice(2).toLowerCase(), { head: `0x${node}`, proof, from: j + 1 })
    }
  }

  return {
    get size() {
      return bySignature.size
    },
    clear() {
      bySignature.clear()
    },
    prove(leaf, proof, signature, recover) {
      if (!Array.isArray(proof) || proof.length > MAX_PROOF)
        throw new MalformedSignatureError(`a ${what} proof is a list of at most ${MAX_PROOF} hashes`)
      const tree = bySignature.get(signature)
      const walked: string[] = []
      let node = leaf
      for (let j = 0; ; j++) {
        const h = hexOf(node)
        if (tree) {
          const known = tree.nodes.get(h)
          if (known && follows(known, proof, j)) {
            record(tree, walked, proof, j)
            return tree
          }
        }
        walked.push(h)
        if (j === proof.length) break
        node = hashPair(node, decodeNode(proof[j], what))
      }
      const top = walked[walked.length - 1] as string
      if (tree) {
        if (top === tree.top) {
          record(tree, walked, proof, proof.length)
          return tree
        }
        // the signature of another root: recovered as it is, and not kept (a signature names one root)
        const signer = recover(node, signature)
        return signer === undefined ? undefined : { signer, root: node, rootHex: `0x${top}` }
      }
      const signer = recover(node, signature)
      if (signer === undefined) return undefined
      if (bySignature.size >= maxTrees) bySignature.clear()
      const made: Tree = { signer, root: node, rootHex: `0x${top}`, top, nodes: new Map() }
      bySignature.set(signature, made)
      record(made, walked, proof, proof.length)
      return made
    },
  }
}
