/** IPv4 subnet arithmetic and a small address pool for bridge-mode tasks. */

export interface Subnet {
  /** Network address as an unsigned 32-bit integer. */
  network: number;
  prefix: number;
  /** Number of addresses (including network and broadcast). */
  size: number;
  text: string;
}

export function ipToInt(ip: string): number {
  const parts = ip.split(".");
  if (parts.length !== 4) throw new Error(`"${ip}" is not an IPv4 address`);
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new Error(`"${ip}" is not an IPv4 address`);
    n = n * 256 + Number(p);
  }
  return n;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Parses `a.b.c.d/p`; the address is masked to the network. */
export function parseCidr(text: string): Subnet {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not an IPv4 CIDR (a.b.c.d/p)`);
  const prefix = Number(m[2]);
  if (prefix > 32) throw new Error(`"${text}": prefix must be at most 32`);
  const size = 2 ** (32 - prefix);
  const network = ipToInt(m[1]!) - (ipToInt(m[1]!) % size);
  return { network, prefix, size, text: `${intToIp(network)}/${prefix}` };
}

export function contains(subnet: Subnet, ip: string): boolean {
  const n = ipToInt(ip);
  return n >= subnet.network && n < subnet.network + subnet.size;
}

/** The gateway (first host address) and task addresses (the rest, without broadcast). */
export class AddressPool {
  private readonly used = new Set<number>();
  readonly gateway: string;

  constructor(readonly subnet: Subnet) {
    if (subnet.size < 8) throw new Error(`${subnet.text} is too small for a bridge (need /29 or wider)`);
    this.gateway = intToIp(subnet.network + 1);
  }

  /** Lowest free task address; throws when the subnet is full. */
  allocate(): string {
    for (let n = this.subnet.network + 2; n < this.subnet.network + this.subnet.size - 1; n++) {
      if (!this.used.has(n)) {
        this.used.add(n);
        return intToIp(n);
      }
    }
    throw new Error(`no free address left in ${this.subnet.text}`);
  }

  release(ip: string): void {
    this.used.delete(ipToInt(ip));
  }

  inUse(): number {
    return this.used.size;
  }
}
