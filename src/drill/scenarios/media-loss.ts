import { access, rm } from "node:fs/promises";
import { formatBytes } from "../../config/index.ts";
import { restoreMedia } from "../../components/index.ts";
import { compareTrees } from "../../components/media/media-compare.ts";
import type { BackupManifest } from "../../manifest/index.ts";
import { backupAgeRpo, copyProductionMedia, newestBackup } from "./production-copy.ts";
import type { Scenario, ScenarioContext } from "./scenario.ts";

/** The media-loss scenario's state: its copy of the media folder. */
export interface MediaLossStage {
  ctx: ScenarioContext;
  mediaDir: string;
  restored?: BackupManifest;
}

export const MEDIA_LOSS_STEPS = {
  delete: "Delete the media folder",
  detect: "Detect: the media folder is gone",
  restore: "Restore the newest snapshot into place",
} as const;

/**
 * Media file loss: the media folder is deleted; the newest snapshot is restored into the
 * same place (every SHA-256 checked) and every file compared with the folder before the
 * loss. RPO: the snapshot's age at the failure.
 */
export const mediaLoss: Scenario<MediaLossStage> = {
  id: "media-loss",
  title: "Media file loss",
  fault: "the media folder deleted (rm -rf)",
  symptom: "uploads and avatars answer 404; the media folder is empty or gone",
  needs: ["writable-source", "server-copies"],
  prepare: async (ctx) => ({ ctx, mediaDir: await copyProductionMedia(ctx) }),
  inject: [
    { name: MEDIA_LOSS_STEPS.delete, command: (s) => `rm -rf ${s.mediaDir}`, run: async (s) => {
      await rm(s.mediaDir, { recursive: true, force: true });
      return `${s.mediaDir} deleted`;
    } },
    { name: MEDIA_LOSS_STEPS.detect, run: async (s) => {
      const error = await access(s.mediaDir).then(() => undefined, (e: unknown) => e as Error);
      if (!error) throw new Error(`${s.mediaDir} still exists`);
      return error.message;
    } },
  ],
  recover: [{
    name: "Restore the newest snapshot",
    steps: [
      { name: MEDIA_LOSS_STEPS.restore, command: (s) => `dr-drill restore media --latest --into ${s.mediaDir}`, run: async (s) => {
        const manifest = await newestBackup(s.ctx.storage, "media");
        const restored = await restoreMedia({ storage: s.ctx.storage, manifest, identities: s.ctx.identities }, s.mediaDir);
        s.restored = manifest;
        return `${manifest.id}: ${restored.files} files, ${formatBytes(restored.bytes)}, every SHA-256 checked`;
      } },
    ],
    verify: async (s, failureAt) => {
      const compared = await compareTrees(s.ctx.source.mediaDir, s.mediaDir, s.ctx.config.media.excludes);
      return {
        checks: [{ name: "every file equal to before the loss", status: compared.same ? "passed" : "failed", detail: compared.detail }],
        ...backupAgeRpo(s.restored!, failureAt, "the restored snapshot"),
      };
    },
  }],
  dispose: async () => undefined,
};
