import type { Answer } from 'dns-packet';

/** A resource record in dns-packet's shape (names without trailing dot, TTL in seconds). */
export type RR = Answer;

/**
 * Only the constructors below make replies: the brand is not exported, so an
 * object literal does not type-check as a Reply, and every reply of a kind
 * has one shape (the server's path stays monomorphic).
 */
declare const BUILT: unique symbol;

interface ReplyCommon {
  readonly [BUILT]: true;
  readonly rcode: number;
  /** Authoritative Answer bit: set for names we are the source of (the cluster zone). */
  readonly aa: boolean;
  /** Name of the plugin that produced the reply (metrics label, log); "" for the end of a chain. */
  readonly by: string;
  /** Why the reply is a failure, for the `errors` plugin. */
  readonly error: Error | undefined;
  /**
   * Header bits forced on the answer as sent (the `header` plugin), after
   * encoding, relaying and truncation: `(flags & ~clear) | set`. Set only on
   * replies derived by answer-edit.ts, never by the constructors.
   */
  readonly header?: HeaderEdit;
  /**
   * EDNS options (encoded code/length/data TLVs) for our OPT record (the
   * `nsid` plugin). Only sent when the client's query has an OPT.
   */
  readonly ednsOptions?: Buffer;
}

/** Bits of the header's flags word (FLAG.AA, FLAG.RA, FLAG.RD...) to set and to clear. */
export interface HeaderEdit {
  set: number;
  clear: number;
}

/** Sections for the server to encode. */
export interface RecordsReply extends ReplyCommon {
  readonly kind: 'records';
  readonly answer: RR[];
  readonly authority: RR[];
  readonly additional: RR[];
  /**
   * The plugin hands this same object out again for the same question (a
   * memoized answer): the server may keep its encoding, keyed by this
   * object, and answer later queries by patching a copy.
   */
  readonly reusable: boolean;
}

/**
 * An upstream's whole message, relayed with our ID and the client's
 * question spelling patched in. `wire` never carries an OPT record (OPT is
 * hop-by-hop: the server writes ours) unless `addressed`; `rcode` is the
 * full rcode, extended bits included.
 */
export interface RelayReply extends ReplyCommon {
  readonly kind: 'relay';
  readonly wire: Buffer;
  /** `wire` already is this query's whole answer (ID, flags, question spelling, our OPT): sent as is when it fits. */
  readonly addressed: boolean;
}

/**
 * No answer at all (acl's `drop`): the client hears nothing, as CoreDNS
 * does when a plugin writes nothing. Observers see an empty wire.
 */
export interface DropReply extends ReplyCommon {
  readonly kind: 'drop';
}

/**
 * A zone transfer (AXFR): answer records split over several messages, sent
 * one after another on the query's TCP connection (RFC 5936 2.2), each with
 * the query's ID and question. Only the `transfer` plugin makes these.
 */
export interface TransferReply extends ReplyCommon {
  readonly kind: 'transfer';
  readonly messages: ReadonlyArray<readonly RR[]>;
}

/** A reply that carries a message: what an internal resolution (SetupContext.resolve) yields. */
export type AnswerReply = RecordsReply | RelayReply;

/** Records or a relayed message: a reply that carries one answer message (not a drop, not a transfer). */
export function carriesMessage(r: Reply): r is AnswerReply {
  return r.kind === 'records' || r.kind === 'relay';
}

/** What a plugin hands back. Build it with records(), reusable(), failure(), relay(), addressed(), drop() or transfer(). */
export type Reply = RecordsReply | RelayReply | DropReply | TransferReply;

/** Empty sections shared by replies that carry none (never pushed to: replies are shared). */
export const NO_RECORDS: RR[] = [];

/** Sections to encode. */
export function records(
  rcode: number, by: string, aa: boolean,
  answer: RR[] = NO_RECORDS, authority: RR[] = NO_RECORDS, additional: RR[] = NO_RECORDS, error?: Error,
): RecordsReply {
  return { kind: 'records', rcode, aa, by, error, answer, authority, additional, reusable: false } as RecordsReply;
}

/** A memoized answer the plugin hands out again for the same question: the server keeps its encoding. */
export function reusable(rcode: number, by: string, aa: boolean, answer: RR[] = NO_RECORDS, authority: RR[] = NO_RECORDS, additional: RR[] = NO_RECORDS): RecordsReply {
  return { kind: 'records', rcode, aa, by, error: undefined, answer, authority, additional, reusable: true } as RecordsReply;
}

/** No records, not authoritative: a refusal or a failure, with its cause for the `errors` plugin when there is one. */
export function failure(rcode: number, by: string, error?: Error): RecordsReply {
  return records(rcode, by, false, NO_RECORDS, NO_RECORDS, NO_RECORDS, error);
}

/** An upstream's message (without OPT) to relay to the client. */
export function relay(rcode: number, by: string, aa: boolean, wire: Buffer): RelayReply {
  return { kind: 'relay', rcode, aa, by, error: undefined, wire, addressed: false } as RelayReply;
}

/** A message already made for this very query (ID, flags, question spelling, our OPT): sent as is when it fits. */
export function addressed(rcode: number, by: string, aa: boolean, wire: Buffer): RelayReply {
  return { kind: 'relay', rcode, aa, by, error: undefined, wire, addressed: true } as RelayReply;
}

/** Send nothing back (rcode 0: CoreDNS's metrics count an unwritten answer as NOERROR). */
export function drop(by: string): DropReply {
  return { kind: 'drop', rcode: 0, aa: false, by, error: undefined } as DropReply;
}

/** A zone transfer's messages (each a list of answer records), NOERROR and authoritative. */
export function transfer(by: string, messages: ReadonlyArray<readonly RR[]>): TransferReply {
  return { kind: 'transfer', rcode: 0, aa: true, by, error: undefined, messages } as TransferReply;
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
