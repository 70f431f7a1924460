/**
 * A basic filter's ematch tree as tc prints it (m_ematch.c print_ematch_seq: `NOT`, `kind(args)`, `(` ... `)` for a
 * sub-expression, `AND` / `OR` between matches), whitespace collapsed, back to the model's ematch list and the set
 * names the ipset matches use. The netlink reader renders the kernel's tree to the same text (netlink/tc/ematch.ts).
 * Pure; text it cannot read ends the list (the text itself is kept as printed).
 */
import type { Ematch } from '../state.js';

export interface ParsedEmatches {
  ematches: Ematch[];
  text: string;
  sets: string[];
}

export function parseEmatchText(raw: string): ParsedEmatches {
  const text = raw.replace(/\s+/g, ' ').trim();
  const out: ParsedEmatches = { ematches: [], text, sets: [] };
  let i = 0;
  const skip = (): void => {
    while (text[i] === ' ') i++;
  };
  const word = (w: string): boolean => {
    skip();
    if (text.startsWith(w, i) && (i + w.length === text.length || text[i + w.length] === ' ')) {
      i += w.length;
      return true;
    }
    return false;
  };
  const relation = (): Ematch['relation'] => (word('AND') ? 'and' : word('OR') ? 'or' : 'end');

  // One sequence: items joined by AND/OR, ending at the first item without a relation.
  const seq = (depth: number): boolean => {
    for (;;) {
      const negated = word('NOT');
      skip();
      if (depth < 32 && word('(')) {
        const container: Ematch = { kind: 'container', text: '', negated, relation: 'end' };
        out.ematches.push(container);
        if (!seq(depth + 1) || !word(')')) return false;
        container.relation = relation();
        if (container.relation === 'end') return true;
        continue;
      }
      const unknown = /^\[unknown ematch (\d+)\]/.exec(text.slice(i));
      let item: Ematch;
      if (unknown !== null) {
        i += unknown[0].length;
        item = { kind: `unknown ${unknown[1]}`, text: '', negated, relation: 'end' };
      } else {
        const m = /^([A-Za-z0-9_]+)\(/.exec(text.slice(i));
        if (m === null) return false;
        i += m[0].length;
        // The arguments run to the closing parenthesis, quoted text (nbyte) skipped.
        const start = i;
        let quoted = false;
        while (i < text.length && (quoted || text[i] !== ')')) {
          if (text[i] === '"') quoted = !quoted;
          i++;
        }
        if (i >= text.length) return false;
        item = { kind: m[1]!, text: text.slice(start, i), negated, relation: 'end' };
        i++;
        if (item.kind === 'ipset') {
          const name = /^(.*?)(?: (?:src|dst)(?:,(?:src|dst))*)?$/.exec(item.text)![1]!;
          if (name !== '') out.sets.push(name);
        }
      }
      out.ematches.push(item);
      item.relation = relation();
      if (item.relation === 'end') return true;
    }
  };
  if (text !== '') seq(0);
  return out;
}
