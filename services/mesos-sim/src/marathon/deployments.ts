import { randomUUID } from "node:crypto";
import type { MarathonEvents } from "./events";

type Action = "StartApplication" | "ScaleApplication" | "RestartApplication" | "StopApplication";

interface Deployment {
  id: string;
  appId: string;
  action: Action;
  version: string;
}

/**
 * Marathon deployments, simplified to one step per app change: created by the
 * API (`deployment_info`), finished when the scheduler sees the app converged
 * (`deployment_success`); a newer change to the same app supersedes the older
 * one. Kept by the leader in memory (a new leader starts with none).
 */
export class Deployments {
  private readonly byApp = new Map<string, Deployment>();

  constructor(private readonly events: MarathonEvents) {}

  start(appId: string, action: Action): Deployment {
    const d: Deployment = { id: randomUUID(), appId, action, version: new Date().toISOString() };
    this.byApp.set(appId, d);
    this.events.emit("deployment_info", { plan: this.plan(d), currentStep: { actions: [{ action, app: appId }] } });
    return d;
  }

  /** Called by the scheduler after each pass over an app (or a removed app). */
  observe(appId: string, converged: boolean): void {
    const d = this.byApp.get(appId);
    if (!d || !converged) return;
    this.byApp.delete(appId);
    this.events.emit("deployment_success", { id: d.id, plan: this.plan(d) });
  }

  /** `GET /v2/deployments`. */
  list(): Record<string, unknown>[] {
    return [...this.byApp.values()].map((d) => ({
      id: d.id,
      version: d.version,
      affectedApps: [d.appId],
      currentStep: 1,
      totalSteps: 1,
      currentActions: [{ action: d.action, app: d.appId }],
    }));
  }

  of(appId: string): { id: string }[] {
    const d = this.byApp.get(appId);
    return d ? [{ id: d.id }] : [];
  }

  private plan(d: Deployment): Record<string, unknown> {
    return { id: d.id, version: d.version, steps: [{ actions: [{ action: d.action, app: d.appId }] }] };
  }
}
