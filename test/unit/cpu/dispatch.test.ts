/**
 * The switch dispatch (src/cpu/dispatch.ts) must agree with the handler table: the hot
 * handlers own ids 0..N-1 in the opcode table, and the switch's case k calls handler k.
 */
import { describe, expect, it } from 'vitest';
import { dispatch, HOT_HANDLERS } from '../../../src/cpu/dispatch.js';
import { HANDLERS } from '../../../src/cpu/opcode-table.js';

describe('hot-handler dispatch', () => {
  it('registers the hot handlers first, in order', () => {
    HOT_HANDLERS.forEach((h, k) => expect(HANDLERS[k], `id ${k}`).toBe(h));
  });

  it('has a switch case k that calls hot handler k (nop has an empty case)', () => {
    const source = dispatch.toString();
    HOT_HANDLERS.forEach((h, k) => {
      const m = new RegExp(`case ${k}:([^;]*);`).exec(source);
      expect(m, `case ${k}`).not.toBeNull();
      if (h.name === 'nop') expect(m![1].trim()).toBe('return');
      else expect(m![1], `case ${k} should call ${h.name}`).toMatch(new RegExp(`\\b${h.name}\\b`));
    });
  });
});
