/**
 * Text outside code spans: a `<` that starts a tag-like word (`<db>_new`) would vanish as
 * HTML, so it is escaped there; `<1h` and anything between backticks stay as written.
 */
export function inline(text: string): string {
  return text.split("`").map((part, i) => (i % 2 === 0 ? part.replace(/<(?=[A-Za-z/!?])/g, "&lt;") : part)).join("`");
}

/** Escape a table cell. */
function cell(text: string): string {
  return inline(text).replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** A Markdown table; cells escaped. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n");
}
