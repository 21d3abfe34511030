import { fileURLToPath } from "node:url";
import { runCommand } from "../src/exec/index.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Which code was measured: numbers from a tree with uncommitted changes to src/ say little. */
export interface SourceState {
  /** `git rev-parse HEAD` of the checkout the bench ran from, or why it is unknown. */
  commit: string;
  /** Uncommitted changes under src/ and fixtures/ (`git status --porcelain` lines); empty when clean. */
  dirty: string[];
}

/** Read the commit and the uncommitted changes of the code under test. */
export async function readSourceState(): Promise<SourceState> {
  try {
    const head = await runCommand("git", ["-C", REPO_ROOT, "rev-parse", "HEAD"], { timeoutMs: 10_000 });
    const status = await runCommand("git", ["-C", REPO_ROOT, "status", "--porcelain", "--", "src", "fixtures"], { timeoutMs: 10_000 });
    return { commit: head.stdout.trim(), dirty: status.stdout.split("\n").filter(Boolean) };
  } catch (error) {
    return { commit: `unknown (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`, dirty: [] };
  }
}
