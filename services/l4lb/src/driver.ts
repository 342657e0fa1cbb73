import type { DataplaneVip } from "./dataplane";
export interface DataplaneDriver {
  readonly mode: "nft" | "userspace";
  /** Makes the data plane serve exactly `vips` (the whole desired table); incremental where possible. */
  apply(vips: readonly DataplaneVip[]): Promise<void>;
  /** Compares with what is actually installed and repairs drift; resolves to the number of repairs made. */
  reconcile(): Promise<number>;
  close(): Promise<void>;
  /** The socket LB beside the data plane (nft driver option): its cgroup and the VIPs in its maps; undefined when off. */
  socketLb?(): SocketLbStatus | undefined;
}

export interface SocketLbStatus {
  cgroup: string;
  vips: number;
}
