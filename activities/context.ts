import { activityInfo } from '@temporalio/activity';

/** The workflow id of the running activity: the base of every idempotency key its writes carry. */
export function currentWorkflowId(): string {
  const wf = activityInfo().workflowExecution;
  if (!wf)
    throw new Error('this activity must run inside a workflow (its idempotency keys derive from the workflow id)');
  return wf.workflowId;
}
