// dns-packet's type table (name <-> code), which @types/dns-packet does not declare.
declare module 'dns-packet/types.js' {
  const types: {
    /** 0 for a name it does not know. */
    toType(name: string): number;
    toString(type: number): string;
  };
  export default types;
}
