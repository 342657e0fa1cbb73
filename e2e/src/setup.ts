/**
 * Loaded first (mocha `require` in e2e/.mocharc.json, and imported by the harness):
 * Ryuk, Testcontainers' reaper, cannot run without a registry, so it is off
 * unless the caller says otherwise. The harness stops its containers itself.
 */
process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";

export {};
