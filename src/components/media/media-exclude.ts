/**
 * Excludes as `aws s3 sync --exclude` users write them: `*.pyc` matches a file name at any
 * depth, `__pycache__/` a folder name at any depth, `uploads/tmp/**` a path from the root.
 */
export interface ExcludeMatcher {
  /** True when a file (relative path, `/`-separated) is excluded. */
  excludesFile(relativePath: string): boolean;
  /** True when a whole folder is excluded (its contents are not even listed). */
  excludesDir(relativePath: string): boolean;
}

/** A glob (`*`, `?`, `**`) as an anchored regular expression. */
function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
      if (glob[i + 1] === "/") i++;
    } else if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Build a matcher from exclude patterns. */
export function makeExcludeMatcher(patterns: readonly string[]): ExcludeMatcher {
  const dirNames: RegExp[] = [];
  const names: RegExp[] = [];
  const paths: RegExp[] = [];
  for (const raw of patterns) {
    const pattern = raw.trim();
    if (!pattern) continue;
    if (pattern.endsWith("/*") && !pattern.slice(0, -2).includes("/")) dirNames.push(globToRegExp(pattern.slice(0, -2)));
    else if (pattern.endsWith("/") && !pattern.slice(0, -1).includes("/")) dirNames.push(globToRegExp(pattern.slice(0, -1)));
    else if (pattern.includes("/")) paths.push(globToRegExp(pattern.replace(/^\//, "").replace(/\/$/, "/**")));
    else names.push(globToRegExp(pattern));
  }
  const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);
  return {
    excludesFile: (p) => names.some((re) => re.test(base(p))) || paths.some((re) => re.test(p)),
    excludesDir: (p) => dirNames.some((re) => re.test(base(p))) || paths.some((re) => re.test(p) || re.test(`${p}/`)),
  };
}
