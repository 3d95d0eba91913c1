// Plain AST of a Corefile. It carries no plugin knowledge: plugins' setup code
// walks Directive trees and validates them (see options.ts for helpers).

export interface Directive {
  /** First token of the line, e.g. "forward". */
  name: string;
  /** Remaining tokens on that logical line (quotes removed, env substituted). */
  args: string[];
  /** The nested { } block, one Directive per line (recursively); null if none. */
  block: Directive[] | null;
  /** File the directive came from (after import, the imported file). */
  file: string;
  /** 1-based line of the directive's name token. */
  line: number;
}

export interface ServerBlock {
  /** Raw keys as written (commas removed); see keys.ts to interpret them. */
  keys: string[];
  directives: Directive[];
  file: string;
  line: number;
}

export interface SourceFile {
  path: string;
  text: string;
}

export interface Corefile {
  blocks: ServerBlock[];
  /** Every file read to build it: the Corefile, then each imported file in order (reload hashes them all). */
  files?: SourceFile[];
}
