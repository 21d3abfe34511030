import { type DrError, isDrError } from "./index.ts";

/** For tests: the DrError a promise rejects with (fails the test when it resolves or throws something else). */
export async function drErrorOf(promise: Promise<unknown>): Promise<DrError> {
  try {
    await promise;
  } catch (error) {
    if (isDrError(error)) return error;
    throw error;
  }
  throw new Error("expected a DrError, got success");
}
