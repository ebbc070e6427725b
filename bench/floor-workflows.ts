import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import { fulfilledSignal } from '../workflows/definitions';

const { noop } = proxyActivities<{ noop(step: number): Promise<number> }>({ startToCloseTimeout: '30 seconds' });

/** The floor for bench:sagas: the same number of sequential activities and the same fulfilment signal, doing nothing. */
export async function floorSaga(activities: number): Promise<number> {
  let fulfilled = false;
  setHandler(fulfilledSignal, () => void (fulfilled = true));
  let sum = 0;
  for (let i = 0; i < activities; i++) {
    if (i === 4) await condition(() => fulfilled);
    sum += await noop(i);
  }
  return sum;
}
