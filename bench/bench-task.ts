/** Which side-by-side comparison a task belongs to. */
export type BenchGroup = "postgres" | "postgres-restore" | "cli-overhead" | "media-first-sync" | "media-no-change";

/** One thing timed, with what a reader needs to judge the number. */
export interface BenchTask {
  /** Stable id the ratios refer to (`pg-dump-file`, `pipeline-age`, ...). */
  id: string;
  /** Row name in the table, unique. */
  name: string;
  group: BenchGroup;
  /** The exact command(s) or call(s) inside the timed window. */
  command: string;
  /** What makes the comparison fair or not (encryption, flags, what is excluded from timing). */
  notes: string;
  /** Input bytes one iteration processes (pg_database_size, media bytes): throughput = inputBytes / time. */
  inputBytes: number;
  /** One timed iteration. */
  run: () => Promise<void>;
  /** Untimed preparation before each iteration (empty bucket, fresh cache). */
  beforeEach?: () => Promise<void>;
  /** Untimed check and clean-up after each iteration. */
  afterEach?: () => Promise<void>;
  /** Untimed, once before the first round (open the task's bucket). */
  setup?: () => Promise<void>;
  /** Untimed, once after the last round (empty and close the bucket). */
  teardown?: () => Promise<void>;
  /** Facts each iteration recorded (stored bytes, files uploaded), in order. */
  facts: Record<string, number>[];
}
