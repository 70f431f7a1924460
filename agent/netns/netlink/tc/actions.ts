/** A filter's actions attribute (TCA_*_ACT: one nested attribute per action, TCA_ACT_KIND inside): kinds in order. Pure. */
import { parseAttrs, read } from '../nlmsg.js';

const TCA_ACT_KIND = 1;

export function actionKinds(b: Buffer): string[] {
  const out: { order: number; kind: string }[] = [];
  for (const a of parseAttrs(b)) {
    const kind = parseAttrs(a.data).find((x) => x.type === TCA_ACT_KIND);
    if (kind !== undefined) out.push({ order: a.type, kind: read.str(kind.data) });
  }
  return out.sort((x, y) => x.order - y.order).map((x) => x.kind);
}
