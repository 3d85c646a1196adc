import type { WorkerKind } from '../prisma/queries/tracking-store.ts';

/** Live statistics of one connected worker (the fleet API and the dashboard show them). */
export interface WorkerInfo {
  id: string;
  name: string;
  kind: WorkerKind;
  backend: string;
  deviceInfo: Record<string, unknown>;
  connectedAt: Date;
  lastSeenAt: Date;
  steps: number;
  samples: number;
  samplesPerSec: number | null;
  rejected: number;
  /** Smoothed cosine similarity of its gradients with the rest of the fleet (null until observed). */
  gradientAgreement: number | null;
  /** True when its gradients disagree with the fleet beyond tolerance (see GradientAgreementTracker). */
  gradientOutlier: boolean;
  /** The most samples it said one slice may have (its hello's `capabilities.maxBatch`; null: no cap). */
  maxBatch: number | null;
  /** Its fraction of the last applied update's global batch (0 while it sits rounds out as a spare; null before its first). */
  share: number | null;
}
