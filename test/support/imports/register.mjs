// --import this file: every module URL the process resolves is appended to
// the file named by CLUSTERDNS_TEST_IMPORT_LOG (one per line), so a test can
// check what a child process loaded. The hooks run on their own thread.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
