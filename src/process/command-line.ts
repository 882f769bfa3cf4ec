// Turns an App's command text into what is executed: `/bin/sh -c <command>` when the spec asks for a
// shell, otherwise an argv split the way a shell splits words (quotes respected). Without a shell,
// anything only a shell understands (pipes, redirections, `&&`, `$VAR`, globs) is refused with a hint,
// rather than passed to the program as literal arguments.
import { parse } from 'shell-quote';

export interface CommandLine {
  readonly file: string;
  readonly args: readonly string[];
}

/** The command cannot run without a shell (or is empty). Its message tells the user what to change. */
export class CommandLineError extends Error {
  override readonly name = 'CommandLineError';
}

const ENV_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** Splits `command` into a program and its arguments, or throws a CommandLineError. */
export function splitCommand(command: string, field = 'command'): CommandLine {
  const variables: string[] = [];
  // Recording each $NAME lookup tells us the command relies on expansion; the value returned is unused.
  const words = parse(command, (name) => {
    variables.push(name);
    return `$${name}`;
  });
  const args: string[] = [];
  for (const word of words) {
    if (typeof word === 'string') {
      args.push(word);
    } else if ('comment' in word) {
      throw new CommandLineError(
        `${field} ${JSON.stringify(command)} contains "#", which only a shell reads (as a comment); quote it or set shell: true`,
      );
    } else if (word.op === 'glob') {
      throw new CommandLineError(
        `${field} ${JSON.stringify(command)} uses the pattern ${word.pattern}, which only a shell expands; set shell: true or quote it`,
      );
    } else {
      throw new CommandLineError(
        `${field} ${JSON.stringify(command)} uses the shell operator "${word.op}"; set shell: true to run it through /bin/sh`,
      );
    }
  }
  if (variables.length > 0) {
    throw new CommandLineError(
      `${field} ${JSON.stringify(command)} uses $${variables[0] ?? ''}, which only a shell expands; set shell: true or put the value in the command`,
    );
  }
  const [file, ...rest] = args;
  if (file === undefined || file === '') {
    throw new CommandLineError(`${field} is empty; give the program to run`);
  }
  if (ENV_ASSIGNMENT.test(file)) {
    throw new CommandLineError(
      `${field} ${JSON.stringify(command)} starts with the variable assignment ${file}; put it in env or set shell: true`,
    );
  }
  return { file, args: rest };
}

/** What to execute for `command`: through /bin/sh when `shell` is true, else its split argv. */
export function commandLineFor(command: string, shell: boolean | undefined, field = 'command'): CommandLine {
  return shell === true ? { file: '/bin/sh', args: ['-c', command] } : splitCommand(command, field);
}
