/** The bench's own arithmetic: chart ticks, the SVG it writes, the soak's fitted slope. */
import { expect, it } from "vitest";
import { slope } from "../../bench/linear-fit.js";
import { lineChart, ticks } from "../../bench/svg-chart.js";

it("ticks are round steps from 0 that cover the maximum", () => {
  expect(ticks(19_900)).toEqual([0, 5_000, 10_000, 15_000, 20_000]);
  expect(ticks(7.3)).toEqual([0, 2, 4, 6, 8]);
  expect(ticks(4, 1)).toEqual([0, 1, 2, 3, 4]);
  expect(ticks(0)).toEqual([0, 1]);
});

it("draws one path per series with a marker per point, text escaped", () => {
  const svg = lineChart({
    title: "a <b> & c",
    xLabel: "x",
    yLabel: "y",
    series: [
      {
        name: "one",
        points: [
          [1, 2],
          [2, 4],
          [3, null],
        ],
      },
      { name: "two", points: [[1, 1]] },
    ],
    marker: { x: 3, label: "limit" },
  });
  expect(svg.startsWith("<svg")).toBe(true);
  expect(svg).toContain("a &lt;b&gt; &amp; c");
  expect(svg.match(/<path /g)).toHaveLength(1);
  expect(svg.match(/<circle /g)).toHaveLength(3);
  expect(svg).toContain("stroke-dasharray");
});

it("fits the slope of a line, and of noise around a flat line as about 0", () => {
  expect(
    slope([
      [0, 1],
      [1, 3],
      [2, 5],
    ]),
  ).toBeCloseTo(2);
  expect(
    slope([
      [0, 10],
      [1, 12],
      [2, 8],
      [3, 11],
      [4, 9],
      [5, 10],
    ]),
  ).toBeCloseTo(-3 / 17.5);
  expect(slope([[1, 5]])).toBe(0);
});
