import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * V8 settings for a gateway's process: a small heap rather than the fastest one.
 *
 * A gateway keeps little alive (about 45 MB of heap at 10,000 meters), but each reading lives from
 * its poll to its PUBACK and each meter's last values for a whole poll interval: long enough to be
 * promoted to the old generation, which then fills with garbage. V8's defaults let the old
 * generation grow to several times what is alive before a full collection, and the young one to
 * 16 MB a semi-space: a gateway polling 10,000 meters every 10 s measured 145 MB of RSS after 5 s
 * and over 280 MB after 75 s (falling back only when a full collection came). With these two
 * settings the same gateway stayed between 135 and 141 MB over 100 s:
 *
 * - `optimize_for_size`: the old generation grows by a small factor past what is alive;
 * - `semi_space_growth_factor=1`: the young generation keeps its initial size.
 *
 * Set at run time (a gateway is started by the launcher, which cannot pass node flags) they were
 * measured to take effect: the figures above are with them set this way. They cost more frequent
 * collections: the gateway bench prices them (its stage 3b runs the gateway without them; about
 * 15-25 % more CPU a reading at full speed). Never for a process that also runs the back office
 * (the demo): its bill runs and reports want the fast heap.
 */
export function tuneGatewayHeap(): void {
  setFlagsFromString('--optimize-for-size');
  setFlagsFromString('--semi-space-growth-factor=1');
}

/**
 * One full collection, now: for the end of a gateway's start-up. Validating a campus file of
 * 10,000 meters allocates about 20 MB of which 10 MB stays (the frozen configuration), and starting
 * the schedulers as much again; what is garbage of it was promoted to the old generation, where
 * V8's first full collection came only 8–9 s later, when that generation first reached its initial
 * limit. Until then the readings' own garbage piled on top of it: the gateway's largest RSS of the
 * whole run (127–138 MB at 10,045 meters, against 107–120 MB once polling). Collected at once, the
 * next collections are sized from what is really alive. It costs one pause of a few tens of ms,
 * once, before or while the first polls go out.
 *
 * V8 offers no call for it but `gc`, which exists only with `--expose-gc`, a flag the launcher
 * cannot pass; set at run time it applies to contexts made afterwards, so a new context has it
 * and this process's global scope does not (no library finds a `gc` it could call in a loop).
 */
export function collectStartupGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  setFlagsFromString('--no-expose-gc');
  gc();
}
