// Bad input is the user's problem to fix, so it is reported as one line naming the field and
// what was expected, with exit code 2 and no stack trace. Everything else is our bug (exit 1).

export class InputError extends Error {
  constructor(
    /** Dotted path of the offending field, e.g. `params.wIn[3]`, or a file path. */
    readonly field: string,
    readonly expected: string,
  ) {
    super(`${field}: ${expected}`);
    this.name = "InputError";
  }
}

/** A tool the project needs is not installed; names the Debian package that provides it. */
export class MissingToolError extends Error {
  constructor(
    readonly tool: string,
    readonly debianPackage: string,
  ) {
    super(`${tool} not found: install it with 'apt-get install ${debianPackage}' (or run 'npm test' as root, which installs it)`);
    this.name = "MissingToolError";
  }
}
