/**
 * DNS names from Mesos names, exactly as dcos-net does it (MSTATE `mesos_state:label/1` and
 * `domain_frag/1`, spec dcos-net.md §3.6 and §4.4).
 */

const MAX_LABEL = 63;

const allowed = (c: string): boolean => (c >= "a" && c <= "z") || (c >= "0" && c <= "9");

function stripTrailingDashes(acc: string[]): void {
  while (acc.length > 0 && acc[acc.length - 1] === "-") acc.pop();
}

/**
 * One DNS label from any string (MSTATE `label/1`): A–Z lowercased; characters dropped until the
 * first `[a-z0-9]`; then `-`, `_` and `.` become `-` and every other character is dropped. When
 * the label reaches 63 characters with input left, its trailing `-` are stripped and only
 * `[a-z0-9]` are appended from then on, up to 63. Trailing `-` are stripped at the end. Can be `""`.
 *
 * `dnsLabel("myapp.mygroup")` → `"myapp-mygroup"`; `dnsLabel("-4abc123")` → `"4abc123"`.
 */
export function dnsLabel(s: string): string {
  const acc: string[] = [];
  let state: "start" | "middle" | "terminate" = "start";
  let i = 0;
  while (i < s.length) {
    let c = s[i]!;
    if (c >= "A" && c <= "Z") c = c.toLowerCase();
    if (state === "start" && allowed(c)) {
      state = "middle";
      continue;
    }
    if (state === "middle" && acc.length >= MAX_LABEL) {
      stripTrailingDashes(acc);
      state = "terminate";
      continue;
    }
    if (state === "middle" && (c === "-" || c === "_" || c === ".")) {
      acc.push("-");
      i++;
      continue;
    }
    if (state === "terminate" && acc.length === MAX_LABEL) break;
    if (allowed(c)) acc.push(c);
    i++;
  }
  stripTrailingDashes(acc);
  return acc.join("");
}

/**
 * A domain fragment of one or more labels (MSTATE `domain_frag/1`): split on `.`, drop empty
 * parts, {@link dnsLabel} each part, join with `.`. A part that sanitises to `""` is kept (as
 * upstream does), so the result can contain `..`.
 *
 * Named VIPs pass `${label}.${framework}`: `domainFrag("/mygroup/myapp.marathon")` → `"mygroupmyapp.marathon"`.
 */
export function domainFrag(s: string): string {
  return s
    .split(".")
    .filter((p) => p !== "")
    .map(dnsLabel)
    .join(".");
}
