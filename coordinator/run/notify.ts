import createDebug from 'debug';

const debug = createDebug('crowdtrain:run');

/** Calls a run's observer; an observer that throws is logged and never fails the run. */
export function notify<T>(listener: ((value: T) => void) | undefined, value: T): void {
  try {
    listener?.(value);
  } catch (err) {
    debug('a run listener threw: %O', err);
  }
}
