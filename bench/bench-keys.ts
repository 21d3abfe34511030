import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { readIdentityFile } from "../src/crypto/age.ts";

/** A fresh age identity in a 0600 file (DR_AGE_IDENTITY_FILE of the CLI tasks) and its recipient. */
export async function makeIdentityFile(dir: string): Promise<{ file: string; recipients: string[] }> {
  const identity = await generateIdentity();
  const file = join(dir, "bench-age-identity.txt");
  await writeFile(file, `${identity}\n`, { mode: 0o600 });
  return { file, recipients: [await identityToRecipient(identity)] };
}

/** The recipients of an identity file. */
export async function readRecipients(file: string): Promise<string[]> {
  return await Promise.all((await readIdentityFile(file)).map((i) => identityToRecipient(i)));
}
