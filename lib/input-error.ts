/**
 * Input the user gave cannot be used: a data or questions file, a checkpoint, a command-line argument, a port.
 * The message names the file, line or argument; the command line exits with code 2 for it.
 */
export class InputError extends Error {
  override name = 'InputError';
}

/** Run `read` (which reads user input); any failure becomes an {@link InputError} with the same message. */
export async function readingInput<T>(read: () => T | Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError((error as Error).message ?? String(error), { cause: error });
  }
}
