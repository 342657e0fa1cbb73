import { strict as assert } from "node:assert";
import { createLogger, seededRandom } from "@dcnet/core";
import {
  buildQuery,
  type FakeUpstream,
  FLAG_QR,
  parseQuery,
  RCODE_FORMERR,
  startUpstream,
  TYPE_A,
  TYPE_AAAA,
  TYPE_SRV,
  walkMessage,
  mutateQuery,
} from "@dcnet/dns";
import type { DcosDns } from "./service";
import { startDcosDns, testConfig } from "./test-util";

/**
 * Fuzz of the dcos-dns query path, per message (in process, both transports): random bytes and
 * mutated queries (bit flips, byte overwrites, truncation, counts set to extremes, compression
 * pointers, EDNS versions) for internal names, .mesos (forwarded to a fake Mesos-DNS) and other
 * names (forwarded upstream). Contract: a message too short or that is a response is dropped; a
 * malformed one gets a header-only FORMERR with its ID; any other reply is a well-formed response
 * with the query's ID echoing its question, within 65,535 bytes; nothing is logged as an error.
 * A failure names the seed and round.
 */

const SEEDS = [
  buildQuery({ id: 1, name: "ready.spartan", qtype: TYPE_A, edns: { udpSize: 1232 } }),
  buildQuery({ id: 2, name: "leader.mesos", qtype: TYPE_A }),
  buildQuery({ id: 3, name: "example.com", qtype: TYPE_AAAA }),
  buildQuery({ id: 4, name: "_web._tcp.marathon.mesos", qtype: TYPE_SRV }),
  buildQuery({ id: 5, name: "ns.spartan", qtype: 255 }),
];

describe("dcos-dns query path fuzz", function () {
  this.timeout(30_000);
  const errors: string[] = [];
  let up: FakeUpstream;
  let svc: DcosDns;
  before(async () => {
    // The upstream echoes the query as its reply (QR set): always well formed when the query is.
    up = await startUpstream((m) => {
      const r = Buffer.from(m);
      r[2] = r[2]! | 0x80;
      return r;
    });
    const logger = createLogger({ service: "fuzz", level: "error", destination: { write: (s: string) => void errors.push(s) } });
    svc = await startDcosDns(testConfig({ upstreamResolvers: [up.address], mesosDns: [up.address] }), { logger });
  });
  after(async () => {
    await svc?.lifecycle.stop();
    await up?.close();
  });

  for (const seed of [121, 122]) {
    it(`seed ${seed}: random and mutated messages get FORMERR, a drop or a well-formed reply (1500 messages)`, async () => {
      const rnd = seededRandom(seed);
      const server = svc.server();
      const answered: Record<number, number> = {};
      for (let round = 0; round < 1500; round++) {
        let msg: Buffer;
        if (rnd() < 0.15) {
          msg = Buffer.alloc(Math.floor(rnd() * 60));
          for (let i = 0; i < msg.length; i++) msg[i] = Math.floor(rnd() * 256);
        } else msg = mutateQuery(rnd, SEEDS[Math.floor(rnd() * SEEDS.length)]!);
        const transport = rnd() < 0.5 ? "udp" : "tcp";
        const where = `seed ${seed} round ${round} ${transport} ${msg.toString("hex")}`;
        const p = parseQuery(Buffer.from(msg));
        const reply = await server.query(Buffer.from(msg), transport);
        assert.deepEqual(errors, [], `${where}: logged an error`);
        if (!p.ok) {
          if (p.reason === "malformed") {
            assert.ok(reply !== null, `${where}: malformed and not answered`);
            assert.equal(reply.length, 12, where);
            assert.equal(reply.readUInt16BE(0), p.id, where);
            assert.ok(reply.readUInt16BE(2) & FLAG_QR, where);
            assert.equal(reply[3]! & 0xf, RCODE_FORMERR, where);
          } else assert.equal(reply, null, `${where}: a ${p.reason} message was answered`);
          continue;
        }
        if (reply !== null) answered[reply[3]! & 0xf] = (answered[reply[3]! & 0xf] ?? 0) + 1;
        if (reply === null) continue; // dropped (e.g. an upstream reply that does not match): allowed
        assert.ok(reply.length <= 65535, where);
        assert.notEqual(walkMessage(reply), null, `${where}: reply ${reply.toString("hex")} does not walk`);
        assert.equal(reply.readUInt16BE(0), p.query.id, where);
        assert.ok(reply.readUInt16BE(2) & FLAG_QR, where);
        if (p.query.hasQuestion) {
          const echoed = Buffer.from(reply);
          echoed[2] = echoed[2]! & 0x7f;
          const q = parseQuery(echoed);
          assert.ok(q.ok && q.query.hasQuestion, `${where}: reply's question does not parse`);
          assert.deepEqual([q.query.name, q.query.qtype, q.query.qclass], [p.query.name, p.query.qtype, p.query.qclass], where);
        }
      }
      // Parsed queries reached the answers: authoritative NOERROR/NXDOMAIN and forwarded ones.
      assert.ok((answered[0] ?? 0) > 200 && (answered[3] ?? 0) > 20, `rcodes of parsed queries' replies: ${JSON.stringify(answered)}`);
    });
  }
});
