import type { Answer } from 'dns-packet';

// dns-packet exports its per-record encoder (`answer`), which @types/dns-packet
// leaves out; the encoder falls back to it for record types it doesn't write itself.
declare module 'dns-packet' {
  export const answer: {
    encode(rr: Answer, buf: Buffer, offset: number): Buffer;
    encodingLength(rr: Answer): number;
  };
}
