import { GradientAgreementTracker, type WorkerAgreement } from '../../core/aggregate/gradient-agreement.ts';
import type { WorkerResult } from '../../core/run/training-mode.ts';
import type { RunRecorder } from './run-recorder.ts';
import { notify } from './notify.ts';

/**
 * Watches each round's results for a worker whose vectors disagree with the rest of the fleet
 * (a broken backend returning zeros or garbage): a `gradient_outlier` Event when the flag rises, a
 * `gradient_agreement_restored` Event when it falls, and every observation passed on live.
 */
export class AgreementMonitor {
  private readonly tracker = new GradientAgreementTracker();

  constructor(
    private readonly recorder: RunRecorder,
    private readonly onAgreement?: (a: WorkerAgreement) => void,
  ) {}

  /** Observes one round (3+ results are needed for an observation). */
  async observe(results: readonly WorkerResult[], step: number): Promise<void> {
    const seen = this.tracker.observe(results.map((r) => ({ workerId: r.workerId, values: r.values, weight: r.sampleCount })));
    for (const a of seen) {
      notify(this.onAgreement, a);
      if (!a.changed) continue;
      await this.recorder.event(
        a.flagged ? 'gradient_outlier' : 'gradient_agreement_restored',
        {
          step,
          agreement: a.agreement,
          reason: a.flagged
            ? `gradients disagree with the rest of the fleet (smoothed cosine ${a.agreement.toFixed(3)} < ${this.tracker.threshold} while the others agree): check this worker's backend`
            : `gradients agree with the fleet again (smoothed cosine ${a.agreement.toFixed(3)})`,
        },
        a.workerId,
      );
    }
  }
}
