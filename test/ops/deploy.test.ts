/**
 * The deployment files: docker-compose.yml validated by Debian's
 * docker-compose (`config`), the HAProxy configuration by `haproxy -c`, and
 * the settings they give the server checked with the server's own loadConfig.
 * There is no Docker engine here, so nothing is run in containers.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { makeTestCertificates } from "../../dev/test-certificates.js";
import { loadConfig } from "../../server/src/config.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "scrollback-deploy-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const installed = (binary: string, args: string[]) => spawnSync(binary, args).error === undefined;
const hasCompose = installed("docker-compose", ["version"]);
const hasHaproxy = installed("haproxy", ["-v"]);
const skipNote = (binary: string, pkg: string) => ` — SKIPPED: ${binary} is not installed (apt-get install ${pkg}; .ci/run installs it)`;

/** The parts of a service in `docker-compose config` output that these tests read. */
interface ComposeService {
  image?: string;
  build?: { context: string };
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  ports?: unknown[];
  profiles?: string[];
  deploy?: { replicas: number };
  depends_on?: Record<string, { condition: string }>;
}

/** `docker-compose …` in the repository, with only PATH from this environment (no stray settings). */
function compose(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync("docker-compose", args, {
    cwd: root,
    encoding: "utf8",
    env: { PATH: process.env.PATH!, HOME: scratch, ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe(`docker-compose.yml${hasCompose ? "" : skipNote("docker-compose", "docker-compose")}`, () => {
  it.skipIf(!hasCompose)("passes `docker-compose -f docker-compose.yml config` with AUTH_JWT_SECRET set", () => {
    const result = compose(["-f", "docker-compose.yml", "config", "--quiet"], { AUTH_JWT_SECRET: "a-secret-from-the-environment" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it.skipIf(!hasCompose)("refuses to resolve without AUTH_JWT_SECRET, saying where to set it", () => {
    const empty = join(scratch, "empty.env");
    writeFileSync(empty, "");
    const result = compose(["--env-file", empty, "-f", "docker-compose.yml", "config"]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/set AUTH_JWT_SECRET in \.env/);
  });

  it.skipIf(!hasCompose)("refuses .env.example as shipped: the operator must set AUTH_JWT_SECRET", () => {
    const result = compose(["--env-file", ".env.example", "-f", "docker-compose.yml", "config"]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/set AUTH_JWT_SECRET in \.env/);
  });

  describe.skipIf(!hasCompose)("resolved with .env.example and the secret an operator sets", () => {
    const resolved = () => {
      // What `openssl rand -base64 48` gives, as .env.example says.
      const secret = randomBytes(48).toString("base64");
      const result = compose(["--env-file", ".env.example", "-f", "docker-compose.yml", "config"], { AUTH_JWT_SECRET: secret });
      expect(result.status, result.stderr).toBe(0);
      return parseYaml(result.stdout) as { services: Record<"redis" | "scrollback" | "lb" | "prometheus" | "grafana", ComposeService> };
    };

    it("runs Redis 7 with AOF on and a maxmemory with a policy for expiring keys", () => {
      const { redis } = resolved().services;
      expect(redis.image).toMatch(/^redis:7/);
      const args: string[] = redis.command!;
      const valueAfter = (flag: string) => args[args.indexOf(flag) + 1];
      expect(valueAfter("--appendonly")).toBe("yes");
      expect(valueAfter("--maxmemory")).toMatch(/^\d+(mb|gb)$/);
      expect(["volatile-ttl", "volatile-lru"]).toContain(valueAfter("--maxmemory-policy"));
      expect(redis.healthcheck!.test).toEqual(["CMD", "redis-cli", "ping"]);
      expect(redis.volumes!.join()).toMatch(/:\/data/);
    });

    it("runs two scrollback replicas from this repository's image, with settings the server accepts in production", () => {
      const { scrollback, redis } = resolved().services;
      expect(scrollback.build!.context).toBe(root.replace(/\/$/, ""));
      expect(scrollback.deploy!.replicas).toBe(2);
      expect(scrollback.depends_on!.redis!.condition).toBe("service_healthy");
      expect(scrollback.ports).toBeUndefined(); // only the load balancer is published
      const env: Record<string, string> = scrollback.environment!;
      expect(env.NODE_ENV).toBe("production");
      const config = loadConfig(env); // throws, naming the variable, on anything the server would refuse
      expect(config).toMatchObject({ store: "redis", port: 3000, auth: { mode: "jwt" } });
      expect(config.redis).toMatchObject({ kind: "standalone", url: "redis://redis:6379/0" });
      expect(redis).toBeDefined();
    });

    it("forwards every setting of PROTOCOL.md §1 set in .env to the replicas, but those Compose sets itself", () => {
      const protocol = readFileSync(join(root, "docs/PROTOCOL.md"), "utf8");
      const section = protocol.slice(protocol.indexOf("## 1."), protocol.indexOf("## 2."));
      const variables = section
        .split("\n")
        .filter((line) => line.startsWith("| `"))
        .flatMap((line) => [...(line.split("|")[1] ?? "").matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1]!));
      expect(variables).toContain("MAX_CONNECTIONS_PER_USER");
      // Compose decides these itself (see the comment in docker-compose.yml).
      const setByCompose: Record<string, string> = {
        HOST: "listens on every interface of the container",
        PORT: "3000, the port HAProxy forwards to",
        NODE_ENV: "always production",
        REDIS_URL: "the file's own Redis",
        // Other Redis targets: at most one of them may be set with REDIS_URL, and compose runs its own Redis.
        REDIS_HOST: "",
        REDIS_PORT: "",
        REDIS_DB: "",
        REDIS_PASSWORD: "",
        REDIS_USERNAME: "",
        REDIS_SENTINELS: "",
        REDIS_SENTINEL_NAME: "",
        REDIS_CLUSTER_NODES: "",
        STORE: "auto, which is Redis as REDIS_URL is set",
      };
      const forwarded = variables.filter((name) => !(name in setByCompose));
      const envFile = join(scratch, "every-setting.env");
      writeFileSync(envFile, forwarded.map((name) => `${name}=from-env-file-${name}`).join("\n"));
      const result = compose(["--env-file", envFile, "-f", "docker-compose.yml", "config"]);
      expect(result.status, result.stderr).toBe(0);
      const env = (parseYaml(result.stdout) as { services: { scrollback: ComposeService } }).services.scrollback.environment!;
      const missing = forwarded.filter((name) => env[name] !== `from-env-file-${name}`);
      expect(missing).toEqual([]);
      for (const name of Object.keys(setByCompose)) expect(variables).toContain(name);
    });

    it("puts HAProxy in front, with its configuration from deploy/ and the only published port", () => {
      const { lb } = resolved().services;
      expect(lb.image).toMatch(/^haproxy:/);
      expect(lb.volumes).toContain(`${join(root, "deploy/haproxy/haproxy.cfg")}:/usr/local/etc/haproxy/haproxy.cfg:ro`);
      // The certificate's directory, where haproxy.cfg's default TLS_CERTIFICATE points.
      expect(lb.volumes).toContain(`${join(root, "deploy/haproxy/certs")}:/usr/local/etc/haproxy/certs:ro`);
      expect(lb.environment!.SCROLLBACK_SERVICE).toBe("scrollback:3000");
      expect(lb.environment!.PUBLIC_HTTPS_PORT).toBe("8443");
      expect(lb.ports).toEqual([
        { published: 8080, target: 8080 },
        { published: 8443, target: 8443 },
      ]);
    });

    it("keeps Prometheus and Grafana behind the observability profile, bound to loopback", () => {
      const { prometheus, grafana } = resolved().services;
      for (const service of [prometheus, grafana]) {
        expect(service.profiles).toEqual(["observability"]);
        for (const port of service.ports!) expect(String(port)).toMatch(/^127\.0\.0\.1:/);
      }
    });

    it("mounts only files that exist in the repository", () => {
      for (const service of Object.values(resolved().services)) {
        for (const volume of service.volumes ?? []) {
          const source = volume.split(":")[0]!;
          if (!source.startsWith("/")) continue; // a named volume
          expect(existsSync(source), `${relative(root, source)} is mounted but missing`).toBe(true);
        }
      }
    });
  });
});

describe(`deploy/haproxy/haproxy.cfg${hasHaproxy ? "" : skipNote("haproxy", "haproxy")}`, () => {
  const file = join(root, "deploy/haproxy/haproxy.cfg");

  it.skipIf(!hasHaproxy)("is valid for `haproxy -c`, with its defaults and with the variables set", () => {
    // HAProxy reads the certificate when it checks the file; the default path exists only in the container.
    const certificates = makeTestCertificates(join(scratch, "tls"));
    const pem = join(scratch, "tls", "site.pem");
    writeFileSync(pem, readFileSync(certificates.serverCertFile, "utf8") + readFileSync(certificates.serverKeyFile, "utf8"));
    for (const env of [
      { TLS_CERTIFICATE: pem },
      {
        SCROLLBACK_SERVICE: "app:4000",
        DNS_NAMESERVER: "127.0.0.1:5353",
        LISTEN_ADDRESS: "127.0.0.1:9999",
        TLS_LISTEN_ADDRESS: "127.0.0.1:9443",
        TLS_CERTIFICATE: pem,
        PUBLIC_HTTPS_PORT: "9443",
        DYNAMIC_COOKIE_KEY: "k",
      },
    ]) {
      const result = spawnSync("haproxy", ["-c", "-f", file], { encoding: "utf8", env: { PATH: process.env.PATH!, ...env } });
      expect(result.status, result.stdout + result.stderr).toBe(0);
    }
  });

  it("keeps WebSockets open, pins polling sessions to a replica and checks /readyz", () => {
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(/^\s*timeout tunnel \S+/m);
    expect(text).toMatch(/^\s*cookie \S+ insert .*dynamic/m);
    expect(text).toMatch(/^\s*option httpchk GET \/readyz/m);
    expect(text).toMatch(/^\s*server-template \S+ 1-\d+ "\$\{SCROLLBACK_SERVICE-scrollback:3000\}"/m);
  });

  it("ends TLS with the certificate of TLS_CERTIFICATE, redirects plain HTTP and sends HSTS", () => {
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(
      /^\s*bind "\$\{TLS_LISTEN_ADDRESS-:8443\}" ssl crt "\$\{TLS_CERTIFICATE-\/usr\/local\/etc\/haproxy\/certs\/scrollback\.pem\}"/m,
    );
    expect(text).toMatch(/^\s*http-request redirect location "https:\/\/.*" code 308 unless \{ ssl_fc \}/m);
    expect(text).toMatch(/^\s*http-response set-header Strict-Transport-Security "max-age=\d+" if \{ ssl_fc \}/m);
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
  const lines = dockerfile.split("\n").filter((line) => !line.trimStart().startsWith("#"));
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));

  it("is multi-stage and runs the server as an unprivileged user in production mode", () => {
    expect(lines.filter((line) => /^FROM /.test(line)).length).toBeGreaterThanOrEqual(2);
    expect(finalStage).toMatch(/^USER (?!root\b|0\b)\S+/m);
    expect(finalStage).toMatch(/NODE_ENV=production/);
    // node on the build output: no tsx, no TypeScript sources (test/ops/image.test.ts runs it).
    expect(finalStage).toMatch(/^CMD \["node", "--enable-source-maps", "server\/dist\/main\.js"\]/m);
    expect(finalStage).not.toMatch(/tsx|server\/src/);
    // Dev dependencies (tsx, esbuild, TypeScript, vitest, browsers) stay out of the runtime stage.
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
  });

  it("runs on a supported Node.js LTS line (not 20, whose support ended in April 2026)", () => {
    const [, major] = /^ARG NODE_IMAGE=node:(\d+)/m.exec(dockerfile) ?? [];
    expect(["22", "24"]).toContain(major);
  });

  it("checks /healthz with a HEALTHCHECK", () => {
    expect(finalStage).toMatch(/^HEALTHCHECK [\s\S]*?\/healthz/m);
  });

  it("sends only what the image needs to the build (.dockerignore is an allow-list without .env)", () => {
    const ignore = readFileSync(join(root, ".dockerignore"), "utf8")
      .split("\n")
      .filter((line) => line && !line.startsWith("#"));
    expect(ignore[0]).toBe("*");
    expect(ignore.some((line) => line.includes(".env"))).toBe(false);
    for (const copied of ["package.json", "package-lock.json", "scripts/build.ts", "client-sdk/src/", "server/src/"])
      expect(ignore).toContain(`!${copied}`);
  });
});
