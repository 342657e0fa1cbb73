import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { Code, DcnetError } from "@dcnet/core";
import { CONFIG_KEYS, DEFAULTS, SECRET_MASK, configForDisplay, parseMesosDnsConfig, renderConfigTable, type ParseOptions } from "./config";
import { canonicalIp, normaliseResolver, resolvConfServers } from "./config-validate";
import type { MesosDnsConfig } from "./model";

const ROOT = path.resolve(__dirname, "../../..");
const SAMPLE = path.resolve(ROOT, "../shared/mesos-dns-fixtures/config.json.sample");
const M = { masters: ["10.0.0.1:5050"] };

/** Parses with no environment, a fixed resolv.conf and collected warnings. */
function parse(input: unknown, opts: ParseOptions = {}): { cfg: MesosDnsConfig; warnings: string[] } {
  const warnings: string[] = [];
  const cfg = parseMesosDnsConfig(input, {
    env: {},
    resolvConf: () => "nameserver 9.9.9.9\n",
    localAddresses: () => ["127.0.0.1", "10.0.0.9"],
    warn: (m) => warnings.push(m),
    ...opts,
  });
  return { cfg, warnings };
}

function fails(input: unknown, field: string, message: RegExp, opts: ParseOptions = {}): void {
  assert.throws(
    () => parse(input, opts),
    (err: unknown) => {
      assert.ok(err instanceof DcnetError, String(err));
      assert.equal(err.code, Code.INVALID_ARGUMENT);
      assert.equal(err.field, field);
      assert.ok(err.message.startsWith(`${field}: `), err.message);
      assert.match(err.message, message);
      return true;
    },
  );
}

describe("mesos-dns config", () => {
  it("parses the upstream config.json.sample unchanged", () => {
    const { cfg, warnings } = parse(JSON.parse(fs.readFileSync(SAMPLE, "utf8")));
    assert.deepEqual(cfg, {
      ...DEFAULTS,
      zk: "zk://127.0.0.1:2181/mesos",
      masters: ["127.0.0.1:5050"],
      port: 8053,
      resolvers: ["8.8.8.8:53"],
      configured: { resolvers: ["8.8.8.8"], zoneResolvers: {} },
      soaMname: "ns1.mesos.",
      soaRname: "root.ns1.mesos.",
      ipSources: ["mesos", "host"],
    });
    assert.deepEqual(warnings, [
      'unknown config key "ns" ignored',
      "zk: ZooKeeper master detection is not supported yet; using the static masters list",
    ]);
  });

  it("applies the §7 defaults", () => {
    const { cfg, warnings } = parse(M);
    assert.deepEqual(warnings, []);
    assert.deepEqual(cfg, {
      ...DEFAULTS,
      masters: ["10.0.0.1:5050"],
      resolvers: ["8.8.8.8:53"],
      configured: { resolvers: ["8.8.8.8"], zoneResolvers: {} },
      soaMname: "ns1.mesos.",
      soaRname: "root.ns1.mesos.",
    });
    const d: Partial<Record<keyof MesosDnsConfig, unknown>> = DEFAULTS;
    const expected = {
      zkDetectionTimeout: 30, refreshSeconds: 60, stateTimeoutSeconds: 300, ttl: 60, domain: "mesos", port: 53, listener: "0.0.0.0",
      timeout: 5, externalOn: true, recurseOn: true, soaRefresh: 60, soaRetry: 600, soaExpire: 86400, soaMinttl: 60,
      srvRecordDefaultWeight: 1, enforceRFC952: false, setTruncateBit: true, enumerationOn: true, httpOn: true, dnsOn: true,
      httpPort: 8123, httpListener: "0.0.0.0", mesosHTTPSOn: false, mesosAuthentication: "",
    }; // prettier-ignore
    for (const [k, v] of Object.entries(expected)) assert.equal(d[k as keyof MesosDnsConfig], v, k);
    assert.ok(Object.isFrozen(DEFAULTS.ipSources));
  });

  describe("key matching", () => {
    const rows: [string, Record<string, unknown>, keyof MesosDnsConfig, unknown][] = [
      ["REFRESHSECONDS", { REFRESHSECONDS: 7 }, "refreshSeconds", 7],
      ["RefreshSeconds (Go name)", { RefreshSeconds: 8 }, "refreshSeconds", 8],
      ["httpport", { httpport: 9000 }, "httpPort", 9000],
      ["HTTPPORT", { HTTPPORT: 9001 }, "httpPort", 9001],
      ["ipsources", { ipsources: ["host"] }, "ipSources", ["host"]],
      ["soamname", { soamname: "ns2.mesos" }, "soaMname", "ns2.mesos."],
      ["ExternalOn", { ExternalOn: false }, "externalOn", false],
      ["enforcerfc952", { enforcerfc952: true }, "enforceRFC952", true],
      [
        "mesoscredentials / PRINCIPAL",
        { mesoscredentials: { PRINCIPAL: "p", Secret: "s" } },
        "mesosCredentials",
        { principal: "p", secret: "s" },
      ],
    ];
    for (const [name, input, field, value] of rows) {
      it(`matches ${name} case-insensitively`, () => assert.deepEqual(parse({ ...M, ...input }).cfg[field], value));
    }

    const dups: [string, Record<string, unknown>, number, string][] = [
      ["Go name before", { RefreshSeconds: 2, refreshseconds: 1 }, 2, 'config key "refreshseconds" ignored: "RefreshSeconds" is also set'],
      ["Go name after", { refreshseconds: 1, RefreshSeconds: 2 }, 2, 'config key "refreshseconds" ignored: "RefreshSeconds" is also set'],
      [
        "doc spelling over other",
        { REFRESHSECONDS: 1, refreshSeconds: 3 },
        3,
        'config key "REFRESHSECONDS" ignored: "refreshSeconds" is also set',
      ],
      [
        "last of equal rank (Go)",
        { REFRESHSECONDS: 1, RefreshSECONDS: 4 },
        4,
        'config key "REFRESHSECONDS" ignored: "RefreshSECONDS" is also set',
      ],
    ];
    for (const [name, input, value, warning] of dups) {
      it(`duplicate spellings: ${name}`, () => {
        const { cfg, warnings } = parse({ ...M, ...input });
        assert.equal(cfg.refreshSeconds, value);
        assert.deepEqual(warnings, [warning]);
      });
    }

    it("warns about unknown keys and ignores them", () => {
      const { cfg, warnings } = parse({ ...M, ns: "ns1", email: "x", mesosCredentials: { principal: "p", token: "t" } });
      assert.deepEqual(cfg.mesosCredentials, { principal: "p", secret: "" });
      assert.deepEqual(warnings, [
        'unknown config key "ns" ignored',
        'unknown config key "email" ignored',
        'unknown config key "mesosCredentials.token" ignored',
        "mesosCredentials: set but mesosAuthentication is empty; the credentials are not used",
      ]);
    });

    it("accepts and ignores File and SOASerial with a warning", () => {
      const { cfg, warnings } = parse({ ...M, File: "/x.json", soaserial: 5 });
      assert.deepEqual(cfg, parse(M).cfg);
      assert.equal(warnings.length, 2);
      assert.match(warnings[0]!, /^config key "File" ignored/);
      assert.match(warnings[1]!, /^config key "soaserial" ignored/);
    });

    it("treats null like Go: scalars keep their default, lists and maps become empty", () => {
      const { cfg } = parse({ ...M, port: null, resolvers: null, zoneResolvers: null, mesosCredentials: null });
      assert.equal(cfg.port, 53);
      assert.deepEqual(cfg.resolvers, ["9.9.9.9:53"]); // empty → resolv.conf
      assert.deepEqual(cfg.zoneResolvers, {});
    });
  });

  describe("normalisation", () => {
    const rows: [string, Record<string, unknown>, keyof MesosDnsConfig, unknown][] = [
      ["domain lower-cased", { domain: "My-Cluster.Example" }, "domain", "my-cluster.example"],
      ["timeout 0 → 5", { timeout: 0 }, "timeout", 5],
      ["SOAMname trailing dot", { SOAMname: "ns9.mesos.." }, "soaMname", "ns9.mesos."],
      ["SOARname @ → .", { SOARname: "admin@example.com" }, "soaRname", "admin.example.com."],
      ["SOARname dots trimmed", { SOARname: "root.ns1.mesos..." }, "soaRname", "root.ns1.mesos."],
      [
        "resolvers :53, IPv6 forms",
        { resolvers: ["1.1.1.1", "1.0.0.1:5353", "2001:DB8::1", "[2001:db8::2]:54", "::ffff:8.8.4.4"] },
        "resolvers",
        ["1.1.1.1:53", "1.0.0.1:5353", "[2001:db8::1]:53", "[2001:db8::2]:54", "8.8.4.4:53"],
      ],
      [
        "zone resolvers",
        { zoneResolvers: { "Example.COM": ["1.1.1.1"], corp: ["10.1.1.1:5353"] } },
        "zoneResolvers",
        { "example.com": ["1.1.1.1:53"], corp: ["10.1.1.1:5353"] },
      ],
      [
        "IPv6 masters kept as written",
        { masters: ["[2001:db8::1]:5050", "10.0.0.1:5050"] },
        "masters",
        ["[2001:db8::1]:5050", "10.0.0.1:5050"],
      ],
      ["port 0 (ephemeral)", { port: 0, httpport: 0 }, "port", 0],
    ];
    for (const [name, input, field, value] of rows) {
      it(name, () => assert.deepEqual(parse({ ...M, ...input }).cfg[field], value));
    }

    it("canonicalises IPs like Go net.ParseIP(...).String()", () => {
      assert.equal(canonicalIp("2001:0DB8:0:0:0:0:0:1"), "2001:db8::1");
      assert.equal(canonicalIp("::FFFF:1.2.3.4"), "1.2.3.4");
      assert.equal(canonicalIp("fe80::1%eth0"), undefined);
      assert.equal(canonicalIp("01.2.3.4"), undefined);
      assert.deepEqual(normaliseResolver("[::1]"), { error: '"[::1]" is not an IP address or IP:port' });
    });
  });

  describe("resolv.conf fallback", () => {
    const conf =
      "# generated\nsearch example.com\nnameserver 127.0.0.1\nnameserver 10.0.0.9\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\n; c\nnameserver 2001:db8::53\n";
    it("uses resolv.conf minus the host's own addresses when resolvers is empty", () => {
      const { cfg, warnings } = parse({ ...M, resolvers: [] }, { resolvConf: () => conf });
      assert.deepEqual(cfg.resolvers, ["10.0.0.2:53", "[2001:db8::53]:53"]);
      assert.deepEqual(warnings, ['resolvers: resolv.conf nameserver "fe80::1%eth0" is not an IP address; skipped']);
    });
    it("is not read when externalOn is false", () => {
      const { cfg } = parse({ ...M, resolvers: [], externalOn: false }, { resolvConf: () => assert.fail("read") });
      assert.deepEqual(cfg.resolvers, []);
    });
    it("warns when nothing usable is left", () => {
      const { cfg, warnings } = parse({ ...M, resolvers: [] }, { resolvConf: () => "nameserver 127.0.0.1\n" });
      assert.deepEqual(cfg.resolvers, []);
      assert.match(warnings[0]!, /^resolvers: empty and resolv.conf lists no usable nameserver/);
    });
    it("reports an unreadable resolv.conf on the resolvers key", () => {
      const resolvConf = (): string => {
        throw new Error("ENOENT");
      };
      fails({ ...M, resolvers: [] }, "resolvers", /cannot be read: ENOENT/, { resolvConf });
    });
    it("parses nameserver lines", () =>
      assert.deepEqual(resolvConfServers(conf), ["127.0.0.1", "10.0.0.9", "10.0.0.2", "fe80::1%eth0", "2001:db8::53"]));
  });

  describe("errors name the key as written", () => {
    const rows: [string, Record<string, unknown>, string, RegExp][] = [
      // JSON types
      ["config not an object", [] as unknown as Record<string, unknown>, "config", /must be a JSON object/],
      ["int as string", { refreshSeconds: "60" }, "refreshSeconds", /must be an integer, got "60"/],
      ["int fraction", { PORT: 53.5 }, "PORT", /must be an integer/],
      ["uint16 overflow", { SRVRecordDefaultWeight: 70000 }, "SRVRecordDefaultWeight", /does not fit uint16/],
      ["uint32 negative", { SOARetry: -1 }, "SOARetry", /does not fit uint32/],
      ["int32 overflow", { ttl: 2 ** 31 }, "ttl", /does not fit int32/],
      ["bool as string", { externalon: "false" }, "externalon", /must be true or false/],
      ["string as number", { domain: 5 }, "domain", /must be a string/],
      ["list as string", { masters: "10.0.0.1:5050" }, "masters", /must be a list of strings/],
      ["list element", { IPSources: ["host", 1] }, "IPSources", /element 1 must be a string/],
      ["zoneResolvers not an object", { zoneResolvers: ["x"] }, "zoneResolvers", /must be an object/],
      ["zoneResolvers list", { zoneResolvers: { corp: "1.1.1.1" } }, "zoneResolvers", /zone "corp" must be a list/],
      [
        "credentials type (value not echoed)",
        { mesosCredentials: "p:s" },
        "mesosCredentials",
        /must be an object \{"principal","secret"\}, got string$/,
      ],
      ["secret not leaked", { mesosCredentials: { secret: 1234 } }, "mesosCredentials", /secret must be a string, got a non-string$/],
      // §7 rules
      ["dnson and httpon both false", { dnson: false, HttpOn: false }, "dnson", /at least one of dnson and HttpOn must be true/],
      ["port > 65535", { port: 65536 }, "port", /must be 0-65535/],
      ["httpport negative", { httpport: -1 }, "httpport", /must be 0-65535/],
      ["refreshSeconds 0", { refreshSeconds: 0 }, "refreshSeconds", /must be >= 1/],
      ["stateTimeoutSeconds 0", { stateTimeoutSeconds: 0 }, "stateTimeoutSeconds", /must be >= 1/],
      ["zkDetectionTimeout negative", { zkDetectionTimeout: -1 }, "zkDetectionTimeout", /must be >= 0/],
      ["timeout negative", { timeout: -5 }, "timeout", /must be >= 0/],
      ["ttl negative", { TTL: -1 }, "TTL", /must be >= 0/],
      ["domain leading dot", { domain: ".mesos" }, "domain", /not a valid domain name/],
      ["domain trailing dot", { Domain: "mesos." }, "Domain", /not a valid domain name/],
      ["domain underscore", { domain: "me_sos" }, "domain", /not a valid domain name/],
      ["neither zk nor masters", { masters: [] }, "masters", /either masters or zk is required/],
      [
        "zk only (not supported)",
        { masters: [], zk: "zk://10.0.0.1:2181/mesos" },
        "zk",
        /ZooKeeper master detection is not supported .* "masters"/,
      ],
      ["zk syntax", { zk: "10.0.0.1:2181/mesos" }, "zk", /must look like zk:\/\//],
      ["zk port", { Zk: "zk://10.0.0.1:99999/mesos" }, "Zk", /port 1-65535/],
      ["zk path", { zk: "zk://10.0.0.1:2181/" }, "zk", /znode path/],
      ["master without port", { masters: ["10.0.0.1"] }, "masters", /"10.0.0.1" is not host:port/],
      ["master port 0", { Masters: ["10.0.0.1:0"] }, "Masters", /port must be 1-65535/],
      ["master port 65536", { masters: ["10.0.0.1:65536"] }, "masters", /port must be 1-65535/],
      ["master bare IPv6", { masters: ["2001:db8::1:5050"] }, "masters", /is not host:port/],
      ["master host name", { masters: ["master.example:5050"] }, "masters", /not an IP address/],
      ["master duplicate", { masters: ["10.0.0.1:5050", "10.0.0.1:5050"] }, "masters", /duplicate master "10.0.0.1:5050"/],
      [
        "master duplicate after IPv6 normalisation",
        { masters: ["[2001:db8::1]:5050", "[2001:DB8:0::1]:5050"] },
        "masters",
        /duplicate master/,
      ],
      ["listener not an IP", { listener: "localhost" }, "listener", /not an IP address/],
      ["HTTPListener empty", { HTTPListener: "" }, "HTTPListener", /must not be empty/],
      ["resolver host name", { resolvers: ["dns.google"] }, "resolvers", /not an IP address or IP:port/],
      ["resolver bad port", { resolvers: ["8.8.8.8:0"] }, "resolvers", /port must be 1-65535/],
      ["resolver duplicate after :53", { resolvers: ["8.8.8.8", "8.8.8.8:53"] }, "resolvers", /duplicate resolver "8.8.8.8:53"/],
      ["zone invalid", { zoneResolvers: { "bad zone": ["1.1.1.1"] } }, "zoneResolvers", /zone "bad zone" is not a valid domain/],
      ["zone empty list", { zoneResolvers: { corp: [] } }, "zoneResolvers", /zone "corp" has an empty resolver list/],
      ["zone equals domain", { zoneResolvers: { MESOS: ["1.1.1.1"] } }, "zoneResolvers", /is the Mesos domain/],
      ["zone inside domain", { zoneResolvers: { "a.mesos": ["1.1.1.1"] } }, "zoneResolvers", /inside the Mesos domain/],
      [
        "zone contains domain",
        { domain: "dc1.example", zoneResolvers: { example: ["1.1.1.1"] } },
        "zoneResolvers",
        /contains the Mesos domain/,
      ],
      ["zone masks zone", { zoneResolvers: { corp: ["1.1.1.1"], "a.corp": ["1.1.1.2"] } }, "zoneResolvers", /mask each other/],
      ["zone resolver invalid", { zoneResolvers: { corp: ["x"] } }, "zoneResolvers", /"x" is not an IP/],
      ["IPSources empty", { IPSources: [] }, "IPSources", /must not be empty/],
      ["IPSources duplicate", { ipsources: ["host", "host"] }, "ipsources", /duplicate IP source "host"/],
      ["IPSources unknown", { IPSources: ["rkt"] }, "IPSources", /invalid IP source "rkt"/],
      ["SOAMname empty", { SOAMname: "" }, "SOAMname", /not a valid domain name/],
      ["SOARname blank label", { SOARname: "root..mesos" }, "SOARname", /not a valid domain name/],
      ["certFile without keyFile", { certFile: "/c.pem" }, "keyFile", /certFile and keyFile must be given together/],
      ["keyFile without certFile", { KeyFile: "/k.pem" }, "certFile", /certFile and KeyFile must be given together/],
      ["mesosAuthentication unknown", { mesosAuthentication: "kerberos" }, "mesosAuthentication", /"kerberos" is not one of/],
      ["basic without credentials", { mesosAuthentication: "basic" }, "mesosCredentials", /principal and secret are required/],
      [
        "basic without secret",
        { mesosAuthentication: "basic", mesosCredentials: { principal: "p" } },
        "mesosCredentials",
        /principal and secret/,
      ],
      ["iam without IAMConfigFile", { mesosAuthentication: "iam" }, "IAMConfigFile", /required with mesosAuthentication "iam"/],
    ];
    for (const [name, input, field, message] of rows) {
      it(name, () => fails(Array.isArray(input) ? input : { ...M, ...input }, field, message));
    }

    it("accepts valid authentication settings", () => {
      const basic = parse({ ...M, mesosAuthentication: "basic", mesosCredentials: { principal: "p", secret: "s" } }).cfg;
      assert.equal(basic.mesosAuthentication, "basic");
      const iam = parse({ ...M, mesosAuthentication: "iam", IAMConfigFile: "/iam.json" }).cfg;
      assert.equal(iam.iamConfigFile, "/iam.json");
      const tls = parse({ ...M, mesosHTTPSOn: true, certFile: "/c", keyFile: "/k" });
      assert.deepEqual(tls.warnings, ["mesosHTTPSOn: no caCertFile, the master's certificate is not verified"]);
    });

    it("does not check resolvers when externalOn is false (invalid ones are dropped with a warning)", () => {
      const { cfg, warnings } = parse({ ...M, externalOn: false, resolvers: ["dns.google"], zoneResolvers: { mesos: ["1.1.1.1"] } });
      assert.deepEqual(cfg.resolvers, []);
      assert.deepEqual(cfg.zoneResolvers, {});
      assert.equal(warnings.length, 2);
      assert.match(warnings[0]!, /^resolvers: .* ignored because externalOn is false$/);
    });
  });

  describe("environment overrides", () => {
    const rows: [string, Record<string, string>, Partial<MesosDnsConfig>][] = [
      ["REFRESHSECONDS", { MESOS_DNS_REFRESHSECONDS: "5" }, { refreshSeconds: 5 }],
      ["MASTERS comma list", { MESOS_DNS_MASTERS: "10.0.0.1:5050, 10.0.0.2:5050" }, { masters: ["10.0.0.1:5050", "10.0.0.2:5050"] }],
      ["MASTERS JSON list", { MESOS_DNS_MASTERS: '["10.0.0.3:5050"]' }, { masters: ["10.0.0.3:5050"] }],
      ["RESOLVERS", { MESOS_DNS_RESOLVERS: "1.1.1.1,[2001:db8::1]:53" }, { resolvers: ["1.1.1.1:53", "[2001:db8::1]:53"] }],
      ["RESOLVERS empty → resolv.conf", { MESOS_DNS_RESOLVERS: "" }, { resolvers: ["9.9.9.9:53"] }],
      ["PORT and HTTPPORT", { MESOS_DNS_PORT: "5353", MESOS_DNS_HTTPPORT: "0" }, { port: 5353, httpPort: 0 }],
      ["DOMAIN plain string", { MESOS_DNS_DOMAIN: "DC1.Example" }, { domain: "dc1.example" }],
      ["DOMAIN JSON string", { MESOS_DNS_DOMAIN: '"dcos"' }, { domain: "dcos" }],
      ["string that looks like a number", { MESOS_DNS_SOAMNAME: "123" }, { soaMname: "123." }],
      ["EXTERNALON=false", { MESOS_DNS_EXTERNALON: "false" }, { externalOn: false, resolvers: ["8.8.8.8:53"] }],
      ["IPSOURCES", { MESOS_DNS_IPSOURCES: "netinfo,host" }, { ipSources: ["netinfo", "host"] }],
      ["ZONERESOLVERS JSON", { MESOS_DNS_ZONERESOLVERS: '{"corp":["10.1.1.1"]}' }, { zoneResolvers: { corp: ["10.1.1.1:53"] } }],
      [
        "MESOSCREDENTIALS JSON",
        { MESOS_DNS_MESOSCREDENTIALS: '{"principal":"p","secret":"s"}' },
        { mesosCredentials: { principal: "p", secret: "s" } },
      ],
      ["ZK= clears the file's zk", { MESOS_DNS_ZK: "" }, { zk: "" }],
    ];
    for (const [name, env, expected] of rows) {
      it(name, () => {
        const { cfg } = parse({ ...M, zk: "zk://10.0.0.1:2181/mesos", refreshSeconds: 60 }, { env });
        for (const [k, v] of Object.entries(expected)) assert.deepEqual(cfg[k as keyof MesosDnsConfig], v, k);
      });
    }

    it("overrides the file and warns about unknown variables", () => {
      const { cfg, warnings } = parse(
        { ...M, refreshSeconds: 60 },
        { env: { MESOS_DNS_REFRESHSECONDS: "5", MESOS_DNS_NS: "x", HOME: "/root", MESOS_DNS_PORT: undefined } },
      );
      assert.equal(cfg.refreshSeconds, 5);
      assert.equal(cfg.port, 53);
      assert.deepEqual(warnings, ['unknown environment variable "MESOS_DNS_NS" ignored']);
    });

    const errors: [string, Record<string, string>, string, RegExp][] = [
      ["int not a number", { MESOS_DNS_REFRESHSECONDS: "soon" }, "MESOS_DNS_REFRESHSECONDS", /must be an integer, got "soon"/],
      ["int validation", { MESOS_DNS_PORT: "70000" }, "MESOS_DNS_PORT", /must be 0-65535/],
      ["bool", { MESOS_DNS_EXTERNALON: "no" }, "MESOS_DNS_EXTERNALON", /must be true or false/],
      ["masters validation", { MESOS_DNS_MASTERS: "10.0.0.1" }, "MESOS_DNS_MASTERS", /is not host:port/],
      ["IP sources validation", { MESOS_DNS_IPSOURCES: "netinfo,rkt" }, "MESOS_DNS_IPSOURCES", /invalid IP source "rkt"/],
      ["domain validation", { MESOS_DNS_DOMAIN: "bad domain" }, "MESOS_DNS_DOMAIN", /not a valid domain name/],
      ["object expected", { MESOS_DNS_ZONERESOLVERS: "corp=1.1.1.1" }, "MESOS_DNS_ZONERESOLVERS", /must be an object/],
      ["resolvers validation", { MESOS_DNS_RESOLVERS: "8.8.8.8,8.8.8.8" }, "MESOS_DNS_RESOLVERS", /duplicate resolver/],
    ];
    for (const [name, env, field, message] of errors) {
      it(`error: ${name}`, () => fails(M, field, message, { env }));
    }
  });

  describe("configForDisplay", () => {
    const cfg = parse({ ...M, mesosAuthentication: "basic", mesosCredentials: { principal: "dcos", secret: "hunter2" } }).cfg;
    const shown = configForDisplay(cfg, 1700000000, "/etc/mesos-dns/config.json");

    it("uses the upstream Go field names in upstream order", () => {
      assert.deepEqual(Object.keys(shown), [
        ...["RefreshSeconds", "Port", "Timeout", "StateTimeoutSeconds", "ZkDetectionTimeout", "HttpPort", "TTL", "SRVRecordDefaultWeight"],
        ...["SOASerial", "SOARefresh", "SOARetry", "SOAExpire", "SOAMinttl", "SOAMname", "SOARname", "Masters", "ZoneResolvers"],
        ...["Resolvers", "IPSources", "Zk", "Domain", "File", "Listener", "HTTPListener", "RecurseOn", "DnsOn", "HttpOn", "ExternalOn"],
        ...["EnforceRFC952", "SetTruncateBit", "EnumerationOn", "MesosHTTPSOn", "CACertFile", "CertFile", "KeyFile", "MesosCredentials"],
        ...["IAMConfigFile", "MesosAuthentication"],
      ]);
      assert.deepEqual(
        Object.keys(shown),
        CONFIG_KEYS.map((k) => k.key),
      );
      assert.equal(shown.SOASerial, 1700000000);
      assert.equal(shown.File, "/etc/mesos-dns/config.json");
      assert.equal(shown.HttpPort, 8123);
      assert.equal(shown.SOAMname, "ns1.mesos.");
      assert.deepEqual(shown.Resolvers, ["8.8.8.8"]);
    });

    it("hides the secret", () => {
      assert.deepEqual(shown.MesosCredentials, { Principal: "dcos", Secret: SECRET_MASK });
      assert.ok(!JSON.stringify(shown).includes("hunter2"));
      assert.deepEqual(configForDisplay(parse(M).cfg, 0, "").MesosCredentials, { Principal: "", Secret: "" });
    });

    it("shows Resolvers and ZoneResolvers as configured, not normalised, as upstream", () => {
      const { cfg } = parse({
        ...M,
        resolvers: ["8.8.8.8", "2001:db8::53", "[2001:db8::54]:5353"],
        zoneResolvers: { "Corp.Example": ["10.1.0.2"] },
      });
      assert.deepEqual(cfg.resolvers, ["8.8.8.8:53", "[2001:db8::53]:53", "[2001:db8::54]:5353"], "used normalised");
      assert.deepEqual(cfg.zoneResolvers, { "corp.example": ["10.1.0.2:53"] });
      const s = configForDisplay(cfg, 0, "");
      assert.deepEqual(s.Resolvers, ["8.8.8.8", "2001:db8::53", "[2001:db8::54]:5353"]);
      assert.deepEqual(s.ZoneResolvers, { "Corp.Example": ["10.1.0.2"] });
      // Empty with externalOn: resolv.conf's servers, as their IPs.
      assert.deepEqual(configForDisplay(parse({ ...M, resolvers: [] }).cfg, 0, "").Resolvers, ["9.9.9.9"]);
    });
  });

  describe("CONFIG_KEYS", () => {
    it("covers every MesosDnsConfig field once, with env names from the upstream key", () => {
      const fields = CONFIG_KEYS.flatMap((k) => (k.field ? [k.field] : []));
      assert.deepEqual([...fields].sort(), Object.keys(DEFAULTS).sort());
      for (const k of CONFIG_KEYS) {
        assert.equal(k.env, `MESOS_DNS_${k.key.toUpperCase()}`);
        assert.equal(k.key.toLowerCase(), k.docKey.toLowerCase());
      }
    });

    it("CONFIG.md holds the generated table", () => {
      const md = fs.readFileSync(path.resolve(__dirname, "../CONFIG.md"), "utf8");
      const norm = (t: string): string => t.replace(/ +/g, " ").replace(/-{3,}/g, "---");
      assert.ok(norm(md).includes(norm(renderConfigTable())), "CONFIG.md is out of date: paste renderConfigTable() output");
    });
  });
});
