import { mesosv1 } from "@dcnet/proto";
import { Code, DcnetError, invalidArgument, type AsyncService } from "@dcnet/core";
import { TERMINAL_STATES, type TaskState } from "../model/mesos";
import type { ClusterState, TaskView } from "./cluster-state";
import type { LeaderElection } from "./leader";

const STATES: readonly TaskState[] = [
  "TASK_STAGING",
  "TASK_STARTING",
  "TASK_RUNNING",
  "TASK_KILLING",
  "TASK_FINISHED",
  "TASK_FAILED",
  "TASK_KILLED",
  "TASK_LOST",
  "TASK_ERROR",
];

function taskMsg(t: TaskView): mesosv1.Task {
  const last = t.statuses[t.statuses.length - 1];
  return {
    taskId: t.launch.taskId,
    appId: t.launch.appId ?? "",
    agentId: t.launch.agentId,
    state: t.state,
    hostPorts: t.launch.hostPorts,
    ips: (last?.container_status?.network_infos ?? []).flatMap((n) => n.ip_addresses ?? []).map((a) => a.ip_address),
    ...(last?.healthy !== undefined ? { healthy: last.healthy } : {}),
  };
}

/** dcnet.mesos.v1.MesosSimService over one master's view of the cluster. */
export function mesosSimService(
  state: ClusterState,
  election: () => LeaderElection,
  masterId: string,
): AsyncService<typeof mesosv1.MesosSimServiceService> {
  const live = (appId: string): TaskView[] => [...state.tasks.values()].filter((t) => !appId || t.launch.appId === appId);
  return {
    waitForTasks: async (req, ctx) => {
      if (!req.appId) throw invalidArgument("app_id", "required");
      const want = (req.state || "TASK_RUNNING") as TaskState;
      if (!STATES.includes(want)) throw invalidArgument("state", `unknown task state "${req.state}" (one of ${STATES.join(", ")})`);
      const count = req.count || 1;
      const timeoutMs = req.timeoutMs || 30_000;
      if (timeoutMs > 600_000) throw invalidArgument("timeout_ms", "at most 600000");
      const matching = (): TaskView[] => {
        // Terminal states also count tasks already removed from the bus.
        const pool = TERMINAL_STATES.has(want)
          ? [...live(req.appId), ...state.completed.filter((t) => t.launch.appId === req.appId)]
          : live(req.appId);
        return pool.filter((t) => t.state === want);
      };
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = matching();
        if (got.length >= count) return { tasks: got.map(taskMsg) };
        if (ctx.signal.aborted) throw new DcnetError(Code.CANCELLED, "cancelled");
        if (Date.now() >= deadline) {
          const seen = live(req.appId).map((t) => t.state);
          throw new DcnetError(
            Code.DEADLINE_EXCEEDED,
            `${got.length} of ${count} tasks of ${req.appId} in ${want} after ${timeoutMs} ms (tasks: ${seen.join(", ") || "none"})`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    listTasks: async (req) => ({ tasks: live(req.appId).map(taskMsg) }),
    getLeader: async () => {
      const lease = election().lease;
      if (!lease) throw new DcnetError(Code.UNAVAILABLE, "no leading master elected yet");
      return {
        masterId: lease.masterId,
        address: lease.address,
        marathon: lease.marathon,
        thisMasterLeads: lease.masterId === masterId && election().isLeader,
      };
    },
  };
}
