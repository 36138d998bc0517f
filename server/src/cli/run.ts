/**
 * The operator CLI: `scrollback <command> [options]`. Reads the server's own
 * settings (REDIS_*, KEY_PREFIX) and reuses its modules, so it sees Redis
 * exactly as the replicas do.
 */
import { parseArgs } from "node:util";
import { userIdSchema } from "@scrollback/client/protocol/schemas";
import { type Config, ConfigError, loadConfig } from "../config.js";
import type { RedisClient } from "../redis-connections.js";
import { redisTlsOptions } from "../redis-tls.js";
import { CliError, EXIT_CODES } from "./cli-error.js";
import type { Command, CommandContext } from "./command.js";
import { clearCommand } from "./commands/clear.js";
import { exportCommand } from "./commands/export.js";
import { showCommand } from "./commands/show.js";
import { statsCommand } from "./commands/stats.js";
import { tailCommand } from "./commands/tail.js";
import { usersCommand } from "./commands/users.js";
import { type CliStreams, Output } from "./output.js";
import { closeRedis, connectRedis } from "./redis-client.js";

const COMMANDS: readonly Command[] = [usersCommand, showCommand, tailCommand, statsCommand, clearCommand, exportCommand];

const OPTIONS = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  "redis-url": { type: "string" },
  "key-prefix": { type: "string" },
  replica: { type: "string", multiple: true },
} as const;

/** Settings a flag replaces: --redis-url stands for the whole Redis target. */
const REDIS_TARGET_VARIABLES = [
  "REDIS_URL",
  "REDIS_HOST",
  "REDIS_PORT",
  "REDIS_DB",
  "REDIS_SENTINELS",
  "REDIS_SENTINEL_NAME",
  "REDIS_CLUSTER_NODES",
];

/** The full help text. */
export function helpText(): string {
  const commands = COMMANDS.map((command) => `  ${`${command.name} ${command.usage}`.padEnd(16)} ${command.summary}`);
  return `Usage: scrollback <command> [options]

Looks into scrollback's data in Redis, with the server's settings (REDIS_*,
KEY_PREFIX from the environment and ./.env).

Commands:
${commands.join("\n")}

Options:
  --json            results as JSON on stdout (errors as JSON on stderr)
  --redis-url URL   this Redis instead of the configured one (the
                    REDIS_TLS_* files still apply; rediss:// for TLS)
  --key-prefix P    this key prefix instead of KEY_PREFIX
  --replica URL     (stats) a replica's base URL; repeat it, or set
                    SCROLLBACK_REPLICAS=url,url. A name with several
                    addresses (a scaled Compose service) counts each one.
  -h, --help        this help

Exit codes: 0 ok, 1 failed, 2 usage or settings, 3 no such history (show),
4 Redis or a replica did not answer.
`;
}

export interface RunOptions {
  env: Readonly<Record<string, string | undefined>>;
  streams: CliStreams;
  /** Stops long-running commands; the entry point aborts it on SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

/** Runs one CLI invocation and resolves with its exit code; never throws. */
export async function runCli(argv: readonly string[], options: RunOptions): Promise<number> {
  let out = new Output(options.streams, argv.includes("--json"));
  const clients: RedisClient[] = [];
  try {
    const { values, positionals } = parseCliArgs(argv);
    out = new Output(options.streams, values.json === true);
    const [name, ...args] = positionals;
    if (values.help || name === undefined || name === "help") {
      options.streams.stdout.write(helpText());
      return name === undefined && !values.help ? EXIT_CODES.USAGE : EXIT_CODES.OK;
    }
    const command = COMMANDS.find((candidate) => candidate.name === name);
    if (!command) throw new CliError("USAGE", `unknown command "${name}" (try scrollback --help)`);
    checkArguments(command, args, values.replica !== undefined);

    const config = loadCliConfig(options.env, values);
    const context: CommandContext = {
      config,
      out,
      args,
      replicas: values.replica ?? splitList(options.env.SCROLLBACK_REPLICAS),
      env: options.env,
      signal: options.signal ?? new AbortController().signal,
      async connect(role) {
        const client = await connectRedis(config.redis, role);
        clients.push(client);
        return client;
      },
    };
    return await command.run(context);
  } catch (error) {
    const failure = error instanceof CliError ? error : new CliError("FAILED", error instanceof Error ? error.message : String(error));
    out.error(failure);
    return failure.exitCode;
  } finally {
    await closeRedis(...clients);
  }
}

function parseCliArgs(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError("USAGE", `${(error as Error).message} (try scrollback --help)`);
  }
}

function checkArguments(command: Command, args: string[], replicaGiven: boolean): void {
  const wanted = command.usage === "" ? 0 : command.usage.split(" ").length;
  if (args.length !== wanted) {
    throw new CliError("USAGE", `usage: scrollback ${command.name}${command.usage ? ` ${command.usage}` : ""} [--json]`);
  }
  if (replicaGiven && !command.options?.includes("replica")) {
    throw new CliError("USAGE", `--replica applies to stats only`);
  }
  if (command.usage === "<user>") {
    const result = userIdSchema.safeParse(args[0]);
    if (!result.success) throw new CliError("USAGE", `user id "${args[0]}": ${result.error.issues[0]?.message ?? "invalid"}`);
  }
}

function loadCliConfig(
  env: Readonly<Record<string, string | undefined>>,
  values: { "redis-url"?: string; "key-prefix"?: string },
): Readonly<Config> {
  const effective: Record<string, string | undefined> = { ...env };
  if (values["redis-url"] !== undefined) {
    for (const name of REDIS_TARGET_VARIABLES) delete effective[name];
    effective.REDIS_URL = values["redis-url"];
  }
  if (values["key-prefix"] !== undefined) effective.KEY_PREFIX = values["key-prefix"];
  let config: Readonly<Config>;
  try {
    config = loadConfig(effective);
    if (config.store !== "memory") redisTlsOptions(config.redis);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError("USAGE", error.message);
    throw error;
  }
  if (config.store === "memory") {
    throw new CliError(
      "USAGE",
      "STORE=memory keeps history inside one server process, out of this tool's reach; it inspects Redis (set REDIS_URL or pass --redis-url)",
    );
  }
  return config;
}

function splitList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
}
