/**
 * Which Operator API events can change Mesos-DNS's records (spec §3: task records come only from
 * tasks in `TASK_RUNNING`; agent and framework records from the agents and frameworks).
 *
 * A task event matters when the task is running after it or was running before it: a task that is
 * being staged, started, or that ends without ever having run, adds and removes nothing. Reloading
 * on those (a launch is TASK_ADDED, STAGING, STARTING, then RUNNING) made the RUNNING event wait for
 * reloads that could not change anything, two or three per task on a busy master. Whether a task
 * was running is known from the stream itself: the SUBSCRIBED snapshot, then every task event in
 * order. Everything else that is not a HEARTBEAT (agents, frameworks, an event type this code does
 * not know) is taken as a change.
 */
import { field, str, taskKey } from "./event-json";

const RUNNING = "TASK_RUNNING";

export class RecordRelevance {
  /** Tasks in TASK_RUNNING, by framework/task id. */
  private readonly running = new Set<string>();

  /** The task (framework/task id) the last event took out of TASK_RUNNING, if it did. */
  stopped: string | undefined = undefined;

  /** Running tasks known from the stream (for tests and metrics). */
  get runningTasks(): number {
    return this.running.size;
  }

  /** Takes one event of the stream, in order; true when it can change the record set. */
  take(event: unknown): boolean {
    this.stopped = undefined;
    const type = str(field(event, "type")) ?? "";
    switch (type) {
      case "HEARTBEAT":
        return false;
      case "SUBSCRIBED": {
        this.running.clear();
        const tasks = field(field(field(field(event, "subscribed"), "get_state"), "get_tasks"), "tasks");
        if (Array.isArray(tasks))
          for (const t of tasks)
            if (field(t, "state") === RUNNING) this.running.add(taskKey(field(t, "framework_id"), field(t, "task_id")));
        return true;
      }
      case "TASK_ADDED": {
        const task = field(field(event, "task_added"), "task");
        return this.update(taskKey(field(task, "framework_id"), field(task, "task_id")), str(field(task, "state")));
      }
      case "TASK_UPDATED": {
        const u = field(event, "task_updated");
        const status = field(u, "status");
        // `state` is the task's latest state; `status.state` the state of this update (they differ
        // when updates arrive out of order).
        const state = str(field(u, "state")) ?? str(field(status, "state"));
        return this.update(taskKey(field(u, "framework_id"), field(status, "task_id")), state);
      }
      default:
        return true;
    }
  }

  private update(key: string, state: string | undefined): boolean {
    const was = this.running.has(key);
    const is = state === RUNNING;
    if (is) this.running.add(key);
    else this.running.delete(key);
    if (was && !is) this.stopped = key;
    // RUNNING → RUNNING counts: a later status can carry other addresses (IPSources read it).
    return was || is;
  }
}
