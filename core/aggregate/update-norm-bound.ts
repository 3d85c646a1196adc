/**
 * The L2 norm bound on workers' results (`max_update_norm`): an absolute number, or relative to
 * the fleet. Relative (`auto`, the default): the first `warmup` accepted results are checked
 * against the absolute `warmup_bound`; after that a result may be at most `multiple` x the median
 * norm of the last {@link NORM_WINDOW} accepted (non-zero) results. The median moves with the
 * fleet as gradients shrink during training, and one worker cannot drag it: an attacker needs
 * half the accepted results to raise the bound.
 */

/** `max_update_norm` as the run config holds it. */
export type UpdateNormSetting = number | 'auto' | { multiple: number; warmup: number; warmup_bound: number };

/** What `auto` means. */
export const AUTO_UPDATE_NORM = { multiple: 10, warmup: 3, warmup_bound: 1e6 } as const;

/** Accepted norms the running median is taken over. */
export const NORM_WINDOW = 64;

/**
 * A run's norm bound: {@link current} is the bound now, {@link observe} feeds each accepted norm.
 * @example
 * const bound = new UpdateNormBound('auto');
 * if (norm > bound.current()) reject(); else bound.observe(norm);
 */
export class UpdateNormBound {
  private readonly absolute: number | null;
  private readonly multiple: number;
  private readonly warmup: number;
  private readonly warmupBound: number;
  private accepted = 0;
  private readonly window: number[] = [];
  private cached: number | null = null;

  constructor(setting: UpdateNormSetting) {
    const rel = typeof setting === 'number' ? null : setting === 'auto' ? AUTO_UPDATE_NORM : setting;
    this.absolute = typeof setting === 'number' ? setting : null;
    this.multiple = rel?.multiple ?? AUTO_UPDATE_NORM.multiple;
    this.warmup = rel?.warmup ?? AUTO_UPDATE_NORM.warmup;
    this.warmupBound = rel?.warmup_bound ?? AUTO_UPDATE_NORM.warmup_bound;
  }

  /** Whether the bound follows the fleet (not an absolute number). */
  get relative(): boolean {
    return this.absolute === null;
  }

  /** The largest norm accepted now. */
  current(): number {
    if (this.absolute !== null) return this.absolute;
    if (this.accepted < this.warmup || this.window.length === 0) return this.warmupBound;
    this.cached ??= Math.min(this.warmupBound, this.multiple * median(this.window));
    return this.cached;
  }

  /** Records the norm of an accepted result (zero norms say nothing about scale and are skipped). */
  observe(norm: number): void {
    this.accepted += 1;
    if (this.absolute !== null || !(norm > 0) || !Number.isFinite(norm)) return;
    this.window.push(norm);
    if (this.window.length > NORM_WINDOW) this.window.shift();
    this.cached = null;
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
