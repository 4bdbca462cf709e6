import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMMANDS, cleanParseArgsMessage, findCommand, reportError, runCli, USAGE } from './cli.ts';
import { UsageError } from './usage-error.ts';

/** A CliOutput that keeps what was written. */
function capture() {
  const out = { stdout: '', stderr: '' };
  const io = {
    stdout: { write: (s: string) => (out.stdout += s) },
    stderr: { write: (s: string) => (out.stderr += s) },
  };
  return { out, io };
}

describe('--help, -h and help <command> for every command in the table', () => {
  test('the table holds every command and subcommand the CLI documents', () => {
    const paths = COMMANDS.map((c) => c.path);
    for (const path of [
      'demo',
      'edge',
      'edge run',
      'eval',
      'eval mot',
      'hub',
      'hub token',
      'hub token create',
      'hub token list',
      'hub token revoke',
      'models',
      'models list',
      'models verify',
      'models fetch',
      'models prepare',
      'config',
      'config schema',
      'config check',
      'tune',
      'enhance',
      'help',
    ]) {
      assert.ok(paths.includes(path), `${path} is in COMMANDS`);
    }
    // Every top-level command is in the main usage.
    for (const top of new Set(paths.map((p) => p.split(' ')[0]!))) {
      assert.match(USAGE, new RegExp(`^  ${top}\\b`, 'm'), `${top} is listed in the main usage`);
    }
  });

  for (const command of COMMANDS) {
    test(`${command.path}: --help and -h print its usage on stdout and exit 0; so does "help ${command.path}"`, async () => {
      const words = command.path.split(' ');
      assert.match(command.usage, /^Usage: sightline /);
      // The usage names the command: every word of its path appears in it.
      for (const word of words)
        assert.ok(command.usage.includes(word), `usage of ${command.path} names ${word}`);
      const variants = [
        [...words, '--help'],
        [...words, '-h'],
        ['help', ...words],
      ];
      // Help wins over other (even bad) arguments after the command.
      if (command.path !== 'help') variants.push([...words, '--bogus', '-h']);
      for (const argv of variants) {
        const { out, io } = capture();
        assert.equal(await runCli(argv, io), 0, argv.join(' '));
        assert.equal(out.stdout, command.path === 'help' && argv[0] === 'help' ? USAGE : command.usage);
        assert.equal(out.stderr, '', argv.join(' '));
      }
    });
  }

  test('sightline, sightline -h and sightline help print the main usage; help <unknown> is a usage error', async () => {
    for (const argv of [[], ['-h'], ['--help'], ['help']]) {
      const { out, io } = capture();
      assert.equal(await runCli(argv, io), 0);
      assert.equal(out.stdout, USAGE);
    }
    await assert.rejects(runCli(['help', 'frobnicate'], capture().io), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(reportError(err, ['help', 'frobnicate']).code, 2);
      return true;
    });
  });

  test('a group without its subcommand prints the group usage to stderr, exit 2; an unknown subcommand is a usage error', async () => {
    for (const group of COMMANDS.filter((c) => !c.run)) {
      const { out, io } = capture();
      assert.equal(await runCli(group.path.split(' '), io), 2, group.path);
      assert.equal(out.stderr, group.usage);
      await assert.rejects(runCli([...group.path.split(' '), 'nope'], io), (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.equal(err.message, `unknown ${group.path} subcommand "nope"`);
        return true;
      });
    }
  });

  test('findCommand takes the longest known path of leading words', () => {
    assert.equal(
      findCommand(['hub', 'token', 'revoke', '0123456789abcdef']).command?.path,
      'hub token revoke',
    );
    assert.deepEqual(findCommand(['hub', 'token', 'revoke', '0123456789abcdef']).rest, ['0123456789abcdef']);
    assert.equal(findCommand(['hub', '--port', '0']).command?.path, 'hub');
    assert.equal(findCommand(['frob']).command, undefined);
  });
});

describe('usage errors', () => {
  test("parseArgs errors lose Node's hints about --; the message names the option, exit 2, help pointer", () => {
    const err = (message: string) =>
      Object.assign(new TypeError(message), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
    const unknown = reportError(
      err(
        `Unknown option '--help'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- "--help"`,
      ),
      ['hub', '--help'],
    );
    assert.equal(unknown.code, 2);
    assert.equal(
      unknown.text,
      `sightline: Unknown option '--help'\nRun "sightline help hub" for the options.\n`,
    );
    const ambiguous = cleanParseArgsMessage(
      "Option '--frames' argument is ambiguous.\nDid you forget to specify the option argument for '--frames'?\nTo specify an option argument starting with a dash use '--frames=-XYZ'.",
    );
    assert.doesNotMatch(ambiguous, /To specify|Did you forget/);
    assert.match(ambiguous, /^Option '--frames' argument is ambiguous: --frames needs a value/);
    assert.equal(
      cleanParseArgsMessage("Option '--port <value>' argument missing"),
      "Option '--port <value>' argument missing",
    );
  });

  test('a UsageError points at the help of the command it names', () => {
    const r = reportError(new UsageError('bad', 'hub token'), ['hub', 'token', 'create']);
    assert.equal(r.text, 'sightline: bad\nRun "sightline help hub token" for the options.\n');
    assert.equal(r.code, 2);
  });
});
