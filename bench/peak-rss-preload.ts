// Loaded with `node --import` into a dr-drill CLI the bench times (runCli with peakRss): at
// exit the process prints its own peak RSS (process.resourceUsage().maxRSS, children such as
// zstd not included) as one stderr line, so the report shows what the command users run
// holds in memory, not only how long it takes. Nothing else of the CLI changes.
import { PEAK_RSS_PREFIX } from "./peak-rss-line.ts";

process.on("exit", () => {
  process.stderr.write(`${PEAK_RSS_PREFIX}${process.resourceUsage().maxRSS}\n`);
});
