import { redactDeep } from "../../config/index.ts";
import { say } from "../output.ts";
import { loadCommandConfig } from "../session.ts";

/** `dr-drill config`: the effective configuration, secrets masked. */
export async function configCommand(options: { target?: string }): Promise<number> {
  say(JSON.stringify(redactDeep(await loadCommandConfig(options.target)), null, 2));
  return 0;
}
