import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { TLSSocket } from "node:tls";
import { createLogger, createRegistry, eventually } from "@dcnet/core";
import { startStream } from "@dcnet/mesos/dist/testing/fake-master";
import { parseMesosDnsConfig } from "../config";
import type { MesosDnsConfig } from "../model";
import { loadMasterState } from "./fetch";
import { loginJwt, readIamConfig } from "./iam";
import { masterTransport } from "./master-transport";
import { Reloader } from "./reloader";

const logger = createLogger({ service: "test", level: "silent" });

/** Certificates made with openssl: a CA, a server certificate for 127.0.0.1 it signed, another CA, a client certificate. */
function makeCerts(dir: string): Record<"ca" | "serverKey" | "server" | "otherCa" | "clientKey" | "client", string> {
  const f = (name: string): string => path.join(dir, name);
  const ssl = (...args: string[]): void => void execFileSync("openssl", args, { stdio: "pipe" });
  const selfSigned = (name: string, cn: string): void =>
    ssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      f(`${name}.key`),
      "-out",
      f(`${name}.pem`),
    );
  selfSigned("ca", "test CA");
  selfSigned("other-ca", "another CA");
  selfSigned("client", "mesos-dns client");
  ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", f("server.key"), "-out", f("server.csr"));
  fs.writeFileSync(f("san.ext"), "subjectAltName=IP:127.0.0.1\n");
  ssl(
    "x509",
    "-req",
    "-in",
    f("server.csr"),
    "-CA",
    f("ca.pem"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    f("san.ext"),
    "-out",
    f("server.pem"),
  );
  return {
    ca: f("ca.pem"),
    serverKey: f("server.key"),
    server: f("server.pem"),
    otherCa: f("other-ca.pem"),
    clientKey: f("client.key"),
    client: f("client.pem"),
  };
}

interface Seen {
  path: string;
  authorization: string | undefined;
  clientCn: string | undefined;
}

describe("master transport (§2): HTTPS, client certificates, basic and IAM authentication", function () {
  this.timeout(30_000);
  let dir: string;
  let certs: ReturnType<typeof makeCerts>;
  let master: https.Server;
  let address: string;
  let seen: Seen[] = [];

  const config = (extra: Record<string, unknown>): MesosDnsConfig =>
    parseMesosDnsConfig({ masters: [address], mesosHTTPSOn: true, ...extra }, { env: {}, warn: () => undefined });
  const load = (cfg: MesosDnsConfig) => loadMasterState(cfg.masters, { timeoutMs: 5000, transport: masterTransport(cfg) });

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mesos-dns-tls-"));
    certs = makeCerts(dir);
  });
  beforeEach(async () => {
    seen = [];
    master = https.createServer(
      { key: fs.readFileSync(certs.serverKey), cert: fs.readFileSync(certs.server), requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        req.resume();
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        seen.push({ path: req.url ?? "", authorization: req.headers.authorization, clientCn: peer?.subject?.CN as string | undefined });
        if (req.url === "/api/v1" && req.method === "POST") return startStream(res, { type: "SUBSCRIBED", subscribed: {} });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ leader: `master@${address}`, slaves: [], frameworks: [{ name: "tls-fw", pid: "s@127.0.0.1:1" }] }));
      },
    );
    await new Promise<void>((r) => master.listen(0, "127.0.0.1", r));
    address = `127.0.0.1:${(master.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    master.closeAllConnections();
    await new Promise((r) => master.close(r));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("verifies the master's certificate against caCertFile", async () => {
    const got = await load(config({ caCertFile: certs.ca }));
    assert.equal(got.from, address);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.clientCn, undefined, "no client certificate unless certFile and keyFile are given");
  });

  it("fails, naming the certificate problem, when caCertFile is not the master's CA", async () => {
    await assert.rejects(load(config({ caCertFile: certs.otherCa })), (e: Error) =>
      /TLS certificate verification failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE/.test(e.message),
    );
    assert.equal(seen.length, 0, "no request sent to an unverified master");
  });

  it("skips verification without caCertFile, as upstream", async () => {
    const got = await load(config({}));
    assert.equal(got.state["leader"], `master@${address}`);
  });

  it("does not talk plain http to an https master unless mesosHTTPSOn", async () => {
    await assert.rejects(load(config({ mesosHTTPSOn: false })), (e: Error) => e.message.includes(`http://${address}/master/state`));
  });

  it("presents the client certificate of certFile and keyFile", async () => {
    await load(config({ caCertFile: certs.ca, certFile: certs.client, keyFile: certs.clientKey }));
    assert.equal(seen[0]!.clientCn, "mesos-dns client");
  });

  it("an unreadable caCertFile is an error naming the key", () => {
    assert.throws(
      () => masterTransport(config({ caCertFile: path.join(dir, "missing.pem") })),
      (e: Error & { field?: string }) => e.field === "caCertFile" && /^caCertFile: cannot read ".*missing.pem"/.test(e.message),
    );
  });

  it('sends the basic credentials with mesosAuthentication "basic", on the state fetch and the SUBSCRIBE stream', async () => {
    const cfg = config({ mesosAuthentication: "basic", mesosCredentials: { principal: "dns", secret: "s3cret" } });
    const reloader = new Reloader(cfg, { log: logger, registry: createRegistry({ defaultMetrics: false }), subscribe: true });
    try {
      await reloader.reload("test");
      assert.ok(reloader.current?.set.a.has("tls-fw.mesos."));
      await eventually(() => assert.ok(seen.some((s) => s.path === "/api/v1")));
      const expected = `Basic ${Buffer.from("dns:s3cret").toString("base64")}`;
      // The stream's SUBSCRIBED event triggers one more reload: every request carries the credentials.
      assert.deepEqual(new Set(seen.map((s) => s.path)), new Set(["/master/state", "/api/v1"]));
      for (const s of seen) assert.equal(s.authorization, expected, s.path);
    } finally {
      reloader.stop();
    }
  });

  describe('mesosAuthentication "iam"', () => {
    let login: http.Server;
    let logins: { uid: string; token: string; contentType: string | undefined }[];
    let loginStatus: number;
    let iamFile: string;
    const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });

    beforeEach(async () => {
      logins = [];
      loginStatus = 200;
      login = http.createServer((req, res) => {
        let body = "";
        req.on("data", (d: Buffer) => (body += d.toString()));
        req.on("end", () => {
          const b = JSON.parse(body) as { uid: string; token: string };
          logins.push({ ...b, contentType: req.headers["content-type"] });
          res.writeHead(loginStatus, { "content-type": "application/json" });
          res.end(JSON.stringify({ token: `tok-${logins.length}` }));
        });
      });
      await new Promise<void>((r) => login.listen(0, "127.0.0.1", r));
      iamFile = path.join(dir, "iam.json");
      fs.writeFileSync(
        iamFile,
        JSON.stringify({
          uid: "dns-account",
          private_key: privateKey.export({ type: "pkcs1", format: "pem" }),
          login_endpoint: `http://127.0.0.1:${(login.address() as AddressInfo).port}/acs/api/v1/auth/login`,
        }),
      );
    });
    afterEach(async () => new Promise<void>((r) => login.close(() => r())));

    it("logs in with an RS256 JWT {uid, exp: now + 1 h} for every request and sends Authorization: token=…", async () => {
      const cfg = config({ caCertFile: certs.ca, mesosAuthentication: "iam", IAMConfigFile: iamFile });
      const reloader = new Reloader(cfg, { log: logger, registry: createRegistry({ defaultMetrics: false }), subscribe: true });
      try {
        await reloader.reload("test");
        await eventually(() => assert.ok(seen.some((s) => s.path === "/api/v1")));
        await load(cfg);
      } finally {
        reloader.stop();
      }
      // One login per request (the state fetches — the stream's SUBSCRIBED event triggers one more — and the stream), each token used once.
      assert.deepEqual(new Set(seen.map((s) => s.path)), new Set(["/master/state", "/api/v1"]));
      assert.equal(logins.length, seen.length);
      assert.deepEqual(seen.map((s) => s.authorization).sort(), logins.map((_, i) => `token=tok-${i + 1}`).sort());
      for (const l of logins) {
        assert.equal(l.uid, "dns-account");
        assert.equal(l.contentType, "application/json");
        const [h, c, sig] = l.token.split(".") as [string, string, string];
        assert.deepEqual(JSON.parse(Buffer.from(h, "base64url").toString()), { alg: "RS256", typ: "JWT" });
        const claims = JSON.parse(Buffer.from(c, "base64url").toString()) as { uid: string; exp: number };
        assert.equal(claims.uid, "dns-account");
        assert.ok(Math.abs(claims.exp - (Date.now() / 1000 + 3600)) < 60, `exp ${claims.exp} is about an hour from now`);
        assert.ok(crypto.verify("sha256", Buffer.from(`${h}.${c}`), publicKey, Buffer.from(sig, "base64url")), "signed with private_key");
      }
    });

    it("a login answered with another status than 200 fails the fetch, naming the endpoint", async () => {
      loginStatus = 401;
      const cfg = config({ mesosAuthentication: "iam", IAMConfigFile: iamFile });
      await assert.rejects(load(cfg), (e: Error) =>
        /IAM login http:\/\/127\.0\.0\.1:\d+\/acs\/api\/v1\/auth\/login: HTTP 401/.test(e.message),
      );
      assert.equal(seen.length, 0, "the master is not asked without a token");
    });

    it("IAMConfigFile problems are errors naming the key and the field", () => {
      const bad = path.join(dir, "bad-iam.json");
      fs.writeFileSync(bad, JSON.stringify({ uid: "x", private_key: "nope", login_endpoint: "http://h/" }));
      assert.throws(() => readIamConfig(bad), /IAMConfigFile: ".*bad-iam.json": "private_key" is not a PEM private key/);
      fs.writeFileSync(bad, JSON.stringify({ uid: "x", private_key: privateKey.export({ type: "pkcs1", format: "pem" }) }));
      assert.throws(() => readIamConfig(bad), /"login_endpoint" must be a non-empty string/);
      const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "sec1", format: "pem" });
      fs.writeFileSync(bad, JSON.stringify({ uid: "x", private_key: ec, login_endpoint: "http://h/" }));
      assert.throws(() => readIamConfig(bad), /must be an RSA key/);
      assert.match(loginJwt("u", privateKey, 0), /^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$/);
    });
  });
});
