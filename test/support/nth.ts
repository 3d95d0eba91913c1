import { AssertionError } from 'node:assert';

/** The i-th element, failing the test (not a TypeError later) when the list is shorter or absent. */
export function nth<T>(xs: readonly T[] | null | undefined, i: number): T {
  const x = xs?.[i];
  if (x === undefined) throw new AssertionError({ message: `expected an element at index ${i} of ${xs ? `a list of ${xs.length}` : String(xs)}` });
  return x;
}
