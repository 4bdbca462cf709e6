/** `sightline config schema | check`: the edge config file's JSON Schema, and a check of a config file. */
import { parseArgs } from 'node:util';
import { checkConfigReferences, loadConfigReferences, redactConfig } from '@sightline/edge';
import { EdgeConfig, loadEdgeConfig } from '@sightline/shared';
import { UsageError } from '../usage-error.ts';

export const CONFIG_USAGE = `Usage: sightline config schema
       sightline config check <file> [--json]

  schema            print the JSON Schema (draft 2020-12) of the edge config file (YAML or JSON), e.g. for an
                    editor: # yaml-language-server: $schema=<file>
  check <file>      validate a config file as "sightline edge run --config <file>" would: exit 0 and a summary
                    when it is valid, exit 1 naming every bad field otherwise
  --json            (check) print the config with every default filled in, as JSON (tokens left out and
                    source passwords shown as ***, also those that came from \${VARIABLES})

Every field and its default: shared/src/config.ts.
`;

/** The JSON Schema of what an edge config file may hold (the schema's input: fields with defaults are optional). */
export function edgeConfigJsonSchema(): Record<string, unknown> {
  const schema = EdgeConfig.toJSONSchema({ io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  const { $schema, ...rest } = schema;
  return {
    $schema,
    title: 'Sightline edge config',
    description: 'The edge config file of "sightline edge run --config <file>" (YAML or JSON).',
    ...rest,
  };
}

/** `config schema`: no arguments. */
export async function runConfigSchema(argv: string[]): Promise<number> {
  parseArgs({ args: argv, options: {}, strict: true, allowPositionals: false });
  process.stdout.write(`${JSON.stringify(edgeConfigJsonSchema(), null, 2)}\n`);
  return 0;
}

/** `config check <file>`: a bad file throws ConfigError (exit 1, every bad field named). */
export async function runConfigCheck(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 1) {
    throw new UsageError('config check expects one config file', 'config check');
  }
  const file = positionals[0]!;
  const config = await loadEdgeConfig(file);
  // What the fields name (models, class labels) is checked too, as the edge does before any stream starts.
  checkConfigReferences(config, await loadConfigReferences(config), file);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(redactConfig(config), null, 2)}\n`);
    return 0;
  }
  const parts = [
    `${config.streams.length} stream(s)`,
    `detector ${config.detector.model}`,
    `tracker ${config.tracker.type}`,
    ...(config.hub ? [`hub ${config.hub.url}`] : []),
    ...(config.sinks.length ? [`sinks ${config.sinks.map((s) => s.type).join(', ')}`] : []),
  ];
  process.stdout.write(`${file}: valid edge config (${parts.join('; ')})\n`);
  return 0;
}
