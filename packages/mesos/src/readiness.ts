/**
 * Readiness gating after a (re)subscription (DCOS_OSS-5463, spec dcos-net.md §2.1): when the
 * master reports recovered agents (it failed over and they have not re-registered yet), their
 * tasks are missing from its state; publishing then would flush their DNS records and VIP
 * backends. So: wait until every recovered agent re-registers (AGENT_ADDED) or `recoveryTimeoutMs`
 * passes, then `settleMs` more. Without recovered agents the view is ready at once.
 */
export interface ReadinessOptions {
  recoveryTimeoutMs: number;
  settleMs: number;
}

export class Readiness {
  private readonly waiting: Set<string>;
  private timer: NodeJS.Timeout | undefined;
  private state: "idle" | "recovering" | "settling" | "ready" | "cancelled" = "idle";

  constructor(
    recoveredAgents: Iterable<string>,
    private readonly opts: ReadinessOptions,
    private readonly onReady: () => void,
    private readonly onTimeout: (missing: string[]) => void = () => undefined,
  ) {
    this.waiting = new Set(recoveredAgents);
  }

  start(): void {
    if (this.state !== "idle") return;
    if (this.waiting.size === 0) return this.ready();
    this.state = "recovering";
    this.timer = setTimeout(() => {
      this.onTimeout([...this.waiting]);
      this.settle();
    }, this.opts.recoveryTimeoutMs);
  }

  /** An agent (re-)registered. */
  agentAdded(id: string): void {
    if (this.waiting.delete(id) && this.waiting.size === 0 && this.state === "recovering") this.settle();
  }

  isReady(): boolean {
    return this.state === "ready";
  }

  /** Agents still awaited. */
  missing(): string[] {
    return [...this.waiting];
  }

  cancel(): void {
    clearTimeout(this.timer);
    if (this.state !== "ready") this.state = "cancelled";
  }

  private settle(): void {
    clearTimeout(this.timer);
    this.state = "settling";
    this.timer = setTimeout(() => this.ready(), this.opts.settleMs);
  }

  private ready(): void {
    this.state = "ready";
    this.onReady();
  }
}
