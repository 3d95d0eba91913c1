import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  const file = process.env.CLUSTERDNS_TEST_IMPORT_LOG;
  if (file) appendFileSync(file, `${r.url}\n`);
  return r;
}
