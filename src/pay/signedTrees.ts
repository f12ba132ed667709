import type { Address, Hex } from 'viem'
import { decodeNode, hashPair, MAX_PROOF } from './merkle.js'
import { MalformedSignatureError } from './voucher.js'

/** What a leaf signed in a batch proves: who signed the batch, and its root. */
export type SignedTreeProof = { readonly signer: Address; readonly rootHex: Hex }

/**
 * Batch signatures already recovered, with the nodes proven under each (as many as the node budget holds): the
 * vouchers (or receipts) of one batch arrive call after call with the same signature and overlapping proofs, so
 * only the first is recovered and folded to the root; the others stop at the first node of their path that an
 * earlier one proved.
 */
export type SignedTrees = {
  /**
   * The signer and root of a leaf signed in a batch. The leaf's proof is folded to the root (sorted-pair
   * keccak256) and `recover` names who signed that root, once per signature; a later leaf whose path meets a
   * node already proven under the same signature, with the same proof from there up, is proven there. A tree is
   * kept only when `keep` accepts its signer (a provider keeps the trees of a lane's payer, not of whoever
   * signs). Undefined when `recover` is (no native binding). Throws `MalformedSignatureError` for a proof that is
   * not a list of at most 32 hashes of 32 bytes in hex.
   */
  prove(
    leaf: Uint8Array,
    proof: readonly Hex[],
    signature: Hex,
    recover: (root: Uint8Array, signature: Hex) => Address | undefined,
    keep?: ((signer: Address) => boolean) | undefined,
  ): SignedTreeProof | undefined
  /** Signatures held. */
  readonly size: number
  /** Nodes held, over every signature. */
  readonly nodes: number
  clear(): void
}

/**
 * A proven node: the sibling it is hashed with (`0x` and lowercase hex, as wallets write proofs) and its parent's
 * key; the root has neither. Each node links to its parent, so a cached proof is read by walking up; a proof
 * written otherwise is folded instead.
 */
type Node = { readonly sibling: Hex | undefined; readonly parent: string | undefined }
type Tree = SignedTreeProof & { readonly top: string; readonly nodes: Map<string, Node> }

// Reused for every node turned into hex (read at once).
const scratch = Buffer.allocUnsafe(32)
const hexOf = (node: Uint8Array) => {
  if (node.length !== 32) throw new RangeError(`a tree node is 32 bytes, got ${node.length}`)
  scratch.set(node)
  return scratch.toString('hex')
}

/** Whether `proof` from index `at` is exactly the cached path from node `key` up to the root. */
function follows(nodes: Map<string, Node>, key: string, proof: readonly Hex[], at: number): boolean {
  let n = nodes.get(key)
  let i = at
  while (n !== undefined && n.parent !== undefined) {
    if (proof[i] !== n.sibling) return false
    i++
    n = nodes.get(n.parent)
  }
  return n !== undefined && i === proof.length
}

/**
 * Creates a cache of recovered batch signatures: at most `trees` signatures and `nodes` proven nodes over all
 * of them. A new signature that does not fit starts the cache over; a signature already held stops recording
 * nodes while the budget is full. `what` names the leaves in error messages.
 *
 * @example
 * ```ts
 * const trees = createSignedTrees()
 * const r = trees.prove(leaf, proof, signature, (root) => recoverDigestSignerNative(batchDigest(root), signature))
 * ```
 */
export function createSignedTrees(
  options: { what?: string | undefined; trees?: number | undefined; nodes?: number | undefined } = {},
): SignedTrees {
  const what = options.what ?? 'batch'
  const maxTrees = options.trees ?? 1_024
  const maxNodes = options.nodes ?? 65_536
  const bySignature = new Map<string, Tree>()
  let held = 0

  const add = (tree: Tree, key: string, node: Node) => {
    const had = tree.nodes.size
    tree.nodes.set(key, node)
    held += tree.nodes.size - had
  }

  /**
   * Records the path walked from the leaf (`walked[0]`) up to `walked[upto]`, a node already held or (when
   * `upto` is the proof's length) the root, and the siblings along it (`siblings[j]`, the hex of the proof's node
   * j as decoded). Every string kept is made here: none is a slice of a caller's text, which would keep the whole
   * text alive.
   */
  const record = (
    tree: Tree,
    walked: readonly string[],
    siblings: readonly string[],
    upto: number,
    length: number,
  ) => {
    if (held + 2 * upto + 1 > maxNodes) return
    if (upto === length) add(tree, walked[upto] as string, { sibling: undefined, parent: undefined })
    for (let j = 0; j < upto; j++) {
      const node = walked[j] as string
      const parent = walked[j + 1] as string
      const sibling = siblings[j] as string
      add(tree, node, { sibling: `0x${sibling}`, parent })
      add(tree, sibling, { sibling: `0x${node}`, parent })
    }
  }

  return {
    get size() {
      return bySignature.size
    },
    get nodes() {
      return held
    },
    clear() {
      bySignature.clear()
      held = 0
    },
    prove(leaf, proof, signature, recover, keep) {
      if (!Array.isArray(proof) || proof.length > MAX_PROOF)
        throw new MalformedSignatureError(`a ${what} proof is a list of at most ${MAX_PROOF} hashes`)
      const tree = bySignature.get(signature)
      const walked: string[] = []
      const siblings: string[] = []
      let node = leaf
      for (let j = 0; ; j++) {
        const h = hexOf(node)
        walked.push(h)
        if (tree && follows(tree.nodes, h, proof, j)) {
          record(tree, walked, siblings, j, proof.length)
          return tree
        }
        if (j === proof.length) break
        const sibling = decodeNode(proof[j], what)
        siblings.push(hexOf(sibling))
        node = hashPair(node, sibling)
      }
      const top = walked[walked.length - 1] as string
      if (tree && top === tree.top) {
        // its root, with a proof the cache did not hold (a node written in capitals, or nodes left unrecorded)
        record(tree, walked, siblings, proof.length, proof.length)
        return tree
      }
      // the signature of another root than the one it was kept with: recovered as it is, and not kept
      const signer = recover(node, signature)
      if (signer === undefined) return undefined
      if (tree || (keep && !keep(signer))) return { signer, rootHex: `0x${top}` }
      if (bySignature.size >= maxTrees || held + 2 * proof.length + 1 > maxNodes) {
        bySignature.clear()
        held = 0
      }
      const made: Tree = { signer, rootHex: `0x${top}`, top, nodes: new Map() }
      bySignature.set(signature, made)
      record(made, walked, siblings, proof.length, proof.length)
      return made
    },
  }
}
