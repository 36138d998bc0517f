/**
 * A reader for the Prometheus text exposition format (what /metrics serves),
 * enough for the CLI's `stats` and the dashboard test: samples with their
 * labels; comments, timestamps and exemplars are ignored.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample line of `text`. */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    // The name and value groups always take part in a match; labels are optional.
    const [, name, labelText = "", value] = SAMPLE.exec(line) ?? [];
    if (name === undefined || value === undefined) continue;
    const labels: Record<string, string> = {};
    for (const [, label, labelValue] of labelText.matchAll(LABEL)) {
      if (label === undefined || labelValue === undefined) continue;
      labels[label] = labelValue.replace(/\\(.)/g, (_, char: string) => (char === "n" ? "\n" : char));
    }
    samples.push({ name, labels, value: Number(value) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `where`; undefined when there is none. */
export function sumSamples(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number | undefined {
  const matching = samples.filter(
    (sample) => sample.name === name && Object.entries(where).every(([label, value]) => sample.labels[label] === value),
  );
  return matching.length === 0 ? undefined : matching.reduce((sum, sample) => sum + sample.value, 0);
}
