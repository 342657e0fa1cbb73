import type { KvStore, KvWatch } from "@dcnet/core";
import type { NormalizedApp } from "../model/app";
import { keys } from "../model/kv-layout";

/**
 * Marathon's apps, durable in the bus KV (`marathon.apps.<id>`): every master
 * watches them, only the leader writes. Compare-and-set makes "create" fail on
 * a duplicate id even if two requests race.
 */
export class AppStore {
  readonly apps = new Map<string, NormalizedApp>();
  private readonly revisions = new Map<string, number>();
  private watch: KvWatch | undefined;
  onChange: () => void = () => undefined;

  constructor(private readonly kv: KvStore) {}

  async start(): Promise<void> {
    this.watch = this.kv.watch(
      (c) => {
        if (c.op === "put") {
          try {
            const app = JSON.parse(Buffer.from(c.entry.value).toString()) as NormalizedApp;
            this.apps.set(app.id, app);
            this.revisions.set(app.id, c.entry.revision);
          } catch {
            return;
          }
        } else {
          for (const [id] of this.apps) {
            if (keys.app(id) !== c.key) continue;
            this.apps.delete(id);
            this.revisions.delete(id);
          }
        }
        this.onChange();
      },
      { key: "marathon.apps.*" },
    );
    await this.watch.ready;
  }

  stop(): void {
    this.watch?.stop();
  }

  /** Throws ConflictError if the id exists. */
  async create(app: NormalizedApp): Promise<void> {
    const rev = await this.kv.create(keys.app(app.id), Buffer.from(JSON.stringify(app)));
    this.apps.set(app.id, app);
    this.revisions.set(app.id, rev);
  }

  /** In memory at once (a reconcile pass during the write already sees it), undone if the write fails. */
  async put(app: NormalizedApp): Promise<void> {
    const before = this.apps.get(app.id);
    this.apps.set(app.id, app);
    let rev: number;
    try {
      rev = await this.kv.put(keys.app(app.id), Buffer.from(JSON.stringify(app)));
    } catch (err) {
      if (this.apps.get(app.id) === app) {
        if (before) this.apps.set(app.id, before);
        else this.apps.delete(app.id);
      }
      throw err;
    }
    this.revisions.set(app.id, rev);
  }

  async delete(id: string): Promise<void> {
    await this.kv.delete(keys.app(id));
    this.apps.delete(id);
    this.revisions.delete(id);
  }
}
