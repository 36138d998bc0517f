/**
 * A suite's test CA and certificates (dev/test-certificates.ts), made in a
 * temp dir before the suite and removed after it. Call it before the fixture
 * that starts the Redis using them: hooks after a suite run in reverse
 * order, so that Redis stops before its files go.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { makeTestCertificates, type TestCertificates } from "../../dev/test-certificates.js";
import { suiteValue } from "./suite-value.js";

export interface SuiteCertificates {
  /** The files (set once the suite started). */
  readonly certificates: TestCertificates;
  /** `REDIS_TLS_*` of a replica that trusts the test CA and shows the client certificate. */
  readonly clientEnv: Record<string, string>;
}

/** `name` goes into the temp dir's name. */
export function useSuiteCertificates(name: string): SuiteCertificates {
  let dir: string | undefined;
  let certificates: TestCertificates | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), `scrollback-${name}-`));
    certificates = makeTestCertificates(dir);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get certificates() {
      return suiteValue(certificates, "certificates");
    },
    get clientEnv() {
      const { caFile, clientCertFile, clientKeyFile } = suiteValue(certificates, "certificates");
      return { REDIS_TLS_CA_FILE: caFile, REDIS_TLS_CERT_FILE: clientCertFile, REDIS_TLS_KEY_FILE: clientKeyFile };
    },
  };
}
