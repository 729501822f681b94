// Nagios threshold ranges, as the plugin guidelines define them
// (https://nagios-plugins.org/doc/guidelines.html#THRESHOLDFORMAT):
//
//   10       alert if < 0 or > 10      (start 0 when omitted)
//   10:      alert if < 10             (end +infinity when omitted)
//   ~:10     alert if > 10             (~ is -infinity)
//   10:20    alert if < 10 or > 20
//   @10:20   alert if >= 10 and <= 20  (@ inverts: alert inside)
//
// The range ends are inclusive on the OK side: 10 means 0..10 is OK.

export interface NagiosRange {
  start: number;
  end: number;
  /** @: alert when the value is inside [start, end]. */
  inside: boolean;
  /** As given, for perfdata. */
  text: string;
}

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)$/;

export class NagiosRangeError extends Error {}

export function parseRange(text: string): NagiosRange {
  const fail = (why: string) => {
    throw new NagiosRangeError(`${JSON.stringify(text)} is not a Nagios range (${why}; e.g. 10, 10:, ~:10, 10:20, @10:20)`);
  };
  let body = text.trim();
  const inside = body.startsWith('@');
  if (inside) body = body.slice(1);
  if (body === '') fail('empty');
  let start = 0;
  let end = Infinity;
  const colon = body.indexOf(':');
  if (colon === -1) {
    if (!NUMBER.test(body)) fail(`${JSON.stringify(body)} is not a number`);
    end = Number(body);
  } else {
    const s = body.slice(0, colon);
    const e = body.slice(colon + 1);
    if (s === '~') start = -Infinity;
    else if (s === '') start = 0;
    else if (NUMBER.test(s)) start = Number(s);
    else fail(`start ${JSON.stringify(s)} is not a number or ~`);
    if (e === '') end = Infinity;
    else if (NUMBER.test(e)) end = Number(e);
    else fail(`end ${JSON.stringify(e)} is not a number`);
  }
  if (start > end) fail(`start ${start} is above end ${end}`);
  return { start, end, inside, text: text.trim() };
}

/** True when the value should alert. */
export function alerts(range: NagiosRange, value: number): boolean {
  const within = value >= range.start && value <= range.end;
  return range.inside ? within : !within;
}
