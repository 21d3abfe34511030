/** One file of a media snapshot. */
export interface SnapshotFile {
  /** Path relative to the media root, `/`-separated. */
  path: string;
  /** Plain size, bytes. */
  size: number;
  /** Hex SHA-256 of the plain content. */
  sha256: string;
  /** Modification time, ms since epoch (restored onto the file). */
  mtimeMs: number;
  /** Storage key of the (encrypted) content object. */
  key: string;
}

/** The file list of a media snapshot, stored as one (encrypted) JSON object. */
export interface SnapshotFileList {
  formatVersion: 1;
  /** Snapshot (backup) id. */
  id: string;
  files: SnapshotFile[];
}
