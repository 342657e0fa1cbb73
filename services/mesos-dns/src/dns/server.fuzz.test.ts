import { strict as assert } from "node:assert";
import { createLogger, seededRandom } from "@dcnet/core";
import {
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
import { type Running, buildQuery, makeConfig, makeSet, startServer } from "./test-helpers";

/**
 * Fuzz of the Mesos-DNS query path, per message (in process, both transports): random bytes and
 * mutated queries (bit flips, byte overwrites, truncation, counts set to extremes, compression
 * pointers, EDNS versions, `*` labels) for served names, names of the domain that do not exist,
 * and external names (forwarded to a fake resolver). Contract: a message too short or that is a
 * response is dropped; a malformed one gets a header-only FORMERR with its ID; any other reply is
 * a well-formed response with the query's ID echoing its question, within 65,535 bytes; nothing is
 * logged as an error. (server.test.ts checks the same messages keep the server alive over sockets.)
 * A failure names the seed and round.
 */

const set = makeSet({
  a: {
    "leader.mesos.": ["1.2.3.4"],
    "web.marathon.mesos.": ["10.0.0.1", "10.0.0.2"],
    "web-x-0.marathon.slave.mesos.": ["10.1.0.1"],
    "big.mesos.": Array.from({ length: 100 }, (_, i) => `10.5.0.${i}`),
  },
  aaaa: { "web.marathon.mesos.": ["2001:db8::1"] },
  srv: { "_web._tcp.marathon.mesos.": ["web-x-0.marathon.slave.mesos.:31000", "web-x-0.marathon.slave.mesos.:31001"] },
});

const SEEDS = [
  buildQuery({ id: 1, name: "leader.mesos.", qtype: TYPE_A, edns: { udpSize: 1232 } }),
  buildQuery({ id: 2, name: "big.*.mesos.", qtype: 255 }),
  buildQuery({ id: 3, name: "nothing.mesos.", qtype: TYPE_AAAA }),
  buildQuery({ id: 4, name: "_web._tcp.marathon.mesos.", qtype: TYPE_SRV }),
  buildQuery({ id: 5, name: "example.com.", qtype: TYPE_A }),
];

describe("Mesos-DNS query path fuzz", function () {
  this.timeout(30_000);
  const errors: string[] = [];
  let up: FakeUpstream;
  let s: Running;
  before(async () => {
    up = await startUpstream((m) => {
      const r = Buffer.from(m);
      r[2] = r[2]! | 0x80;
      return r;
    });
    const logger = createLogger({ service: "fuzz", level: "error", destination: { write: (line: string) => void errors.push(line) } });
    s = await startServer(makeConfig({ externalOn: true, resolvers: [up.address] }), set, { logger });
  });
  after(async () => {
    await s?.stop();
    await up?.close();
  });

  for (const seed of [131, 132]) {
    it(`seed ${seed}: random and mutated messages get FORMERR, a drop or a well-formed reply (1500 messages)`, async () => {
      const rnd = seededRandom(seed);
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
        const reply = await s.server.query(Buffer.from(msg), transport);
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
        if (reply === null) continue;
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
      assert.ok((answered[0] ?? 0) > 200 && (answered[3] ?? 0) > 20, `rcodes of parsed queries' replies: ${JSON.stringify(answered)}`);
    });
  }
});
