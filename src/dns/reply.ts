import type { Answer } from 'dns-packet';

/** A resource record in dns-packet's shape (names without trailing dot, TTL in seconds). */
export type RR = Answer;

/**
 * What a plugin hands back. Either sections to encode, or (forward, cache)
 * the upstream's whole message in `wire`, relayed with our ID and the
 * client's question spelling patched in.
 */
export interface Reply {
  rcode: number;
  /** Authoritative Answer bit: set for names we are the source of (the cluster zone). */
  aa: boolean;
  answer: RR[];
  authority: RR[];
  additional: RR[];
  /**
   * A whole DNS message to relay. Never with an OPT record (OPT is hop-by-hop:
   * the server writes ours), unless `addressed`. With `wire`, `rcode` is the
   * full rcode, extended bits included.
   */
  wire?: Buffer;
  /** Name of the plugin that produced the reply (metrics label, log). */
  by?: string;
  /** `wire` already is this query's whole answer (ID, flags, question spelling, our OPT): send it as is when it fits. */
  addressed?: boolean;
  /** Why the reply is a failure, for the `errors` plugin. */
  error?: Error;
  /**
   * The plugin hands this same object out again for the same question
   * (a memoized answer): the server may keep its encoding on it and answer
   * later queries by patching ID, flags and question case into a copy.
   */
  reusable?: boolean;
  /** Encodings kept by the server for reusable replies, by wire variant. */
  encoded?: Array<{ lname: string; wire: Buffer } | undefined>;
  /**
   * Header bits forced on the answer as sent (the `header` plugin), after
   * encoding, relaying and truncation: `(flags & ~clear) | set`.
   */
  header?: HeaderEdit;
  /**
   * EDNS options (encoded code/length/data TLVs) for our OPT record (the
   * `nsid` plugin). Only sent when the client's query has an OPT.
   */
  ednsOptions?: Buffer;
}

/** Bits of the header's flags word (FLAG.AA, FLAG.RA, FLAG.RD...) to set and to clear. */
export interface HeaderEdit {
  set: number;
  clear: number;
}

/** Empty sections shared by replies that carry none (never pushed to: replies are shared). */
export const NO_RECORDS: RR[] = [];

export function reply(rcode: number, by: string, aa = false, answer: RR[] = [], authority: RR[] = [], additional: RR[] = []): Reply {
  return { rcode, aa, answer, authority, additional, by };
}

/**
 * An error that repeats query after query with one cause (an upstream that
 * does not answer, a full max_concurrent): the `errors` plugin logs the
 * first one and then one line per period with a count, per `key`.
 */
export class RepeatedError extends Error {
  constructor(message: string, readonly key: string) {
    super(message);
  }
}
