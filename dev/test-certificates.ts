/**
 * Throwaway certificates for TLS tests and local runs, made by `openssl` in
 * a given directory: a CA, a server certificate for 127.0.0.1 and localhost
 * (or the names asked for) and a client certificate, all signed by that CA.
 * P-256 keys: quick to make. No extended key usage, so Redis may also use the
 * server's certificate as a client (replication, the Cluster bus, Sentinel).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCertificates {
  dir: string;
  caFile: string;
  /** The CA's key, to sign more certificates (makeServerCertificate). */
  caKeyFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

const DAYS = "2";

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function newKeyArgs(keyFile: string): string[] {
  return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile];
}

/** Signs a new key's certificate for `commonName` with the CA in `dir`; `altNames` like ["IP:127.0.0.1", "DNS:localhost"]. */
function signed(dir: string, name: string, commonName: string, altNames: string[]): { certFile: string; keyFile: string } {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  const csr = join(dir, `${name}.csr`);
  openssl(["req", "-new", ...newKeyArgs(keyFile), "-out", csr, "-subj", `/CN=${commonName}`], dir);
  const extensions = join(dir, `${name}.ext`);
  writeFileSync(extensions, altNames.length > 0 ? `subjectAltName=${altNames.join(",")}\n` : "basicConstraints=CA:FALSE\n");
  openssl(
    [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      DAYS,
      "-out",
      certFile,
      "-extfile",
      extensions,
    ],
    dir,
  );
  return { certFile, keyFile };
}

/** A CA, a server certificate naming `serverNames` (default 127.0.0.1 and localhost) and a client certificate, in `dir`. */
export function makeTestCertificates(dir: string, options: { serverNames?: string[] } = {}): TestCertificates {
  mkdirSync(dir, { recursive: true });
  openssl(["req", "-x509", ...newKeyArgs("ca.key"), "-out", "ca.crt", "-days", DAYS, "-subj", "/CN=scrollback test CA"], dir);
  const server = makeServerCertificate(dir, "server", options.serverNames ?? ["127.0.0.1", "localhost"]);
  const client = signed(dir, "client", "scrollback test client", []);
  return {
    dir,
    caFile: join(dir, "ca.crt"),
    caKeyFile: join(dir, "ca.key"),
    serverCertFile: server.certFile,
    serverKeyFile: server.keyFile,
    clientCertFile: client.certFile,
    clientKeyFile: client.keyFile,
  };
}

/** Another server certificate from the CA in `dir` (e.g. one naming a host the client does not connect to). */
export function makeServerCertificate(dir: string, name: string, serverNames: string[]): { certFile: string; keyFile: string } {
  const altNames = serverNames.map((host) => (/^[\d.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`));
  return signed(dir, name, serverNames[0] ?? "localhost", altNames);
}
