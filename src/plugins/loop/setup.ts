import { expectArgs, noBlock } from '../../corefile/options.js';
import { internalZone } from '../../corefile/zones.js';
import type { PluginDefinition } from '../../server/plugin.js';
import { DEFAULT_LOOP_HOOKS, type LoopHooks, LoopPlugin } from './loop.js';

/**
 * The `loop` directive. Tests build it with their own hooks (an exit that
 * records instead of ending mocha, shorter timers).
 */
export function createLoopDefinition(hooks: Partial<LoopHooks> = {}): PluginDefinition {
  const h: LoopHooks = { ...DEFAULT_LOOP_HOOKS, ...hooks };
  return {
    name: 'loop',
    setup(d, ctx) {
      expectArgs(d, 0, 0, 'loop');
      noBlock(d);
      // As CoreDNS: the probe goes to the block's first zone.
      const zone = ctx.block.zones[0] ?? '';
      return new LoopPlugin(internalZone(zone), h);
    },
  };
}

export const loopPlugin = createLoopDefinition();
