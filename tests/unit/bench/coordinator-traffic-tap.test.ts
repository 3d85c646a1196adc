import { describe, expect, it } from 'vitest';
import { tapCoordinatorTraffic } from '../../../bench/support/coordinator-traffic-tap.ts';
import type { Coordinator } from '../../../coordinator/coordinator.ts';

describe('tapCoordinatorTraffic', () => {
  it('says which file to update when the coordinator no longer keeps its socket.io server in "io"', () => {
    const notACoordinator = { io: { on() {} } } as unknown as Coordinator;
    expect(() => tapCoordinatorTraffic(notACoordinator)).toThrow(/no socket.io server in field "io".*coordinator-traffic-tap\.ts/);
  });
});
