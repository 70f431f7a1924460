import { describe, expect, it } from 'vitest';
import { lintExposition, parseSampleLine } from '../helpers/metrics-lint.js';

const ok = `# HELP a_seconds A duration.
# TYPE a_seconds gauge
a_seconds{x="1"} 0.5
# HELP b_total Things.
# TYPE b_total counter
b_total 3
# HELP h_seconds A histogram.
# TYPE h_seconds histogram
h_seconds_bucket{le="1"} 1
h_seconds_bucket{le="+Inf"} 1
h_seconds_sum 0.5
h_seconds_count 1
`;

describe('metrics lint helper (it must be able to fail)', () => {
  it('accepts a clean exposition', () => {
    expect(lintExposition(ok)).toEqual([]);
  });

  it('flags each rule it enforces', () => {
    const bad = `# TYPE no_help gauge
no_help 1
# HELP c Counter without _total.
# TYPE c counter
c 1
# HELP g_total Gauge with _total.
# TYPE g_total gauge
g_total 1
# HELP lat_milliseconds Not a base unit.
# TYPE lat_milliseconds gauge
lat_milliseconds 5
# HELP d Duplicated.
# TYPE d gauge
d{a="1",b="2"} 1
d{b="2",a="1"} 2
orphan 1
# HELP scrape_x Reserved.
# TYPE scrape_x gauge
scrape_x 1
# HELP neg_total Negative counter.
# TYPE neg_total counter
neg_total -1
# HELP ts Timestamped.
# TYPE ts gauge
ts 1 1700000000000
`;
    const problems = lintExposition(bad);
    expect(problems).toEqual(expect.arrayContaining([
      'no_help: missing HELP',
      'c: counter does not end in _total',
      'g_total: gauge ends in _total (reserved for counters)',
      'lat_milliseconds: not a base unit (milliseconds)',
      'duplicate series d{a="1",b="2"}',
      'line 16: sample orphan has no HELP/TYPE before it',
      'scrape_x: scrape_ prefix is reserved',
      'neg_total{}: counter value -1 is not >= 0',
      'orphan: missing HELP',
      'orphan: missing TYPE',
      'line 25: sample carries a timestamp (exporters set none)',
    ]));
    expect(problems).toHaveLength(11);
  });

  it('parses escaped label values', () => {
    expect(parseSampleLine('m{rule="-m comment --comment \\"a\\\\b\\"",x="y\\nz"} 1e3')).toEqual({
      name: 'm', labels: { rule: '-m comment --comment "a\\b"', x: 'y\nz' }, value: 1000, timestamp: null,
    });
    expect(() => parseSampleLine('m{a="1"')).toThrow(/unterminated|expected/);
  });
});
