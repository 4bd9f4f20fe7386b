// Asserting the InputError a call throws (its field and message are what users see).
import { InputError } from "../../host/input/errors.ts";

export function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error("expected an InputError");
}
