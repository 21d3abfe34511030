import { randomBytes } from "node:crypto";
import { rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { DrError, messageOf } from "../errors/index.ts";

/** One sample: metric name, labels, value. */
export interface Sample {
  name: string;
  labels?: Record<string, string>;
  value: number;
}

/** A metric family: HELP, TYPE and its samples. */
export interface MetricFamily {
  name: string;
  help: string;
  type: "gauge" | "counter";
  samples: Sample[];
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** The Prometheus text exposition format (what node_exporter's textfile collector reads). */
export function renderTextfile(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (family.samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${family.help.replaceAll("\\", "\\\\").replaceAll("\n", " ")}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {});
      const rendered = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}` : "";
      lines.push(`${sample.name}${rendered} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Write a textfile atomically: a temp file in the same folder, then rename, so the
 * collector never reads half a file. An unwritable path is a usage error (exit 2) naming
 * it, and nothing is left behind.
 */
export async function writeTextfile(path: string, families: readonly MetricFamily[]): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(3).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, renderTextfile(families), { mode: 0o644 });
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new DrError("CONFIG_INVALID", `unable to write Prometheus textfile '${path}': ${messageOf(error)}`, {
      hint: `make sure ${dirname(path)} exists and is writable (node_exporter's --collector.textfile.directory), or pass another --prometheus path`,
      cause: error,
    });
  }
}
