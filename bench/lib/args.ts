/** `--name N` from the command line, or the default. */
export function numberFlag(name: string, def: number, argv = process.argv.slice(2)): number {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
}
