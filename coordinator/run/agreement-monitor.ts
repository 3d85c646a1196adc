import { GradientAgreementTracker, type WorkerAgreement } from '../../core/aggregate/gradient-agreement.ts';
import type { WorkerResult } from '../../core/run/training-mode.ts';
import type { RunRecorder } from './run-recorder.ts';
import { notify } from './notify.ts';

/**
 * Watches each round's results for a worker whose vectors disagree with the rest of the fleet in
 * direction (a broken backend returning zeros or garbage) or in norm (a result many times longer
 * than the others', e.g. a scaled sign flip): a `gradient_outlier` Event when the flag rises, a
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
          normRatio: a.normRatio,
          reason: !a.flagged
            ? `gradients agree with the fleet again (smoothed cosine ${a.agreement.toFixed(3)}, norm ${a.smoothedNormRatio.toPrecision(3)} x the others' median)`
            : a.normOutlier
              ? `gradient norms disagree with the rest of the fleet (${a.normRatio.toPrecision(3)} x the others' median norm, smoothed ${a.smoothedNormRatio.toPrecision(3)} >= ${this.tracker.normRatio}; cosine ${a.cosine.toFixed(3)}): a broken or hostile worker`
              : `gradients disagree with the rest of the fleet (smoothed cosine ${a.agreement.toFixed(3)} < ${this.tracker.threshold} while the others agree): check this worker's backend`,
        },
        a.workerId,
      );
    }
  }
}
