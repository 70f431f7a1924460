/**
 * Everything rtnetlink says about one namespace, read over one NETLINK_ROUTE socket opened inside it: links,
 * addresses, routes and rules (source `links`), and the whole tc tree (source `tc`): qdiscs of every interface,
 * each interface's classes, and filters of every parent (filter-parents.ts: qdiscs, the ingress / clsact hooks,
 * classes with their own filter block). Synchronous and allocation-light: meant for a worker thread, callable on
 * any thread (the socket already belongs to the namespace).
 *
 * Requests: 4 dumps for `links` (RTM_GETLINK, and AF_UNSPEC RTM_GETADDR / GETROUTE / GETRULE, which the kernel
 * answers for IPv4 then IPv6), 1 RTM_GETQDISC, then 1 RTM_GETTCLASS per interface with a qdisc that can have
 * classes and 1 RTM_GETTFILTER per filter parent: 6 for a pod with noqueue everywhere, 8 with a tbf root. Bounds: `maxBytes` is the budget of answer bytes kept per source (a request gets what is left; past it
 * the source is `truncated`, reason output_limit), `deadline` ends the whole read (requests are not sent past it;
 * one cut by it poisons the socket). A source whose first request fails is `failed`; one that fails later keeps
 * what it read and is `truncated`, with the reason (timeout, vanished...). A message that does not decode is left
 * out and reported in the source's errors (its position and first bytes); nothing here throws but a programming
 * error.
 */
import { ParseError, errorMessage, NetlinkError, type NetnsErrorReason } from '../../errors.js';
import { filterParents } from '../model/filter-parents.js';
import type { Address, IpRule, Link, Route } from '../model/links.js';
import type { TcDump, TcFilter } from '../model/tc.js';
import type { SourceName, SourceStatus } from '../state.js';
import type { NlMessage } from './nlmsg.js';
import { addressOf, decodeAddrMessage, orderAddresses } from './rtnl/addr.js';
import { decodeLinkMessage, linksFromMessages, type LinkMessage } from './rtnl/link.js';
import {
  AF_UNSPEC, FIB_RULE_HDR_LEN, IFADDRMSG_LEN, RTMSG_LEN, RTM_GETADDR, RTM_GETLINK, RTM_GETQDISC, RTM_GETROUTE,
  RTM_GETRULE, RTM_GETTCLASS, RTM_GETTFILTER, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWQDISC, RTM_NEWROUTE, RTM_NEWRULE, RTM_NEWTCLASS,
  RTM_NEWTFILTER, familyRequest, linkDumpRequest, tcRequest,
} from './rtnl/messages.js';
import { decodeRouteMessage, routeOf } from './rtnl/route.js';
import { ruleOf } from './rtnl/rule.js';
import type { NetlinkSocket, RequestLimits } from './socket.js';
import { decodeClass } from './tc/class.js';
import type { SetNameLookup } from './tc/ematch.js';
import { decodeFilter } from './tc/filter.js';
import { TC_H_CLSACT_EGRESS, TC_H_CLSACT_INGRESS, parseHandle } from './tc/handles.js';
import { DEFAULT_PSCHED, type Psched } from './tc/psched.js';
import { decodeQdisc } from './tc/qdisc.js';

export interface RtnlOptions {
  /** ipset index -> name, for the ipset ematch of basic filters (xt/set-index.ts); unknown sets render as `#N`. */
  setName?: SetNameLookup;
  psched?: Psched;
}

export interface RtnlRead {
  links: Link[];
  addresses: Address[];
  routes: Route[];
  rules: IpRule[];
  tc: TcDump;
  /** `links` and `tc`. */
  sources: SourceStatus[];
  /** Messages of the links source that did not decode (tc's are in tc.errors). */
  linkErrors: ParseError[];
  /**
   * What was read but cannot be shown exactly as the tools would show it (an ematch kind without a printer here, a
   * set index without a name), as sentences. Non-empty: `--reader auto` should read the namespace through the tools.
   */
  inexact: string[];
  /** Requests sent. */
  requests: number;
}

const MAX_ERROR_BYTES = 64;

/** Qdisc kinds without class operations, or whose walk lists no class: their interfaces need no class dump. */
const CLASSLESS = new Set(['noqueue', 'pfifo', 'bfifo', 'pfifo_head_drop', 'pfifo_fast', 'ingress', 'clsact']);

/** One source's bookkeeping: byte budget, status, errors. */
class SourceRead {
  status: SourceStatus['status'] = 'complete';
  reason: NetnsErrorReason | undefined;
  message: string | undefined;
  readonly errors: ParseError[] = [];
  private kept = 0;

  constructor(
    readonly name: SourceName,
    private readonly sock: NetlinkSocket,
    private readonly limits: RequestLimits,
    private readonly counter: { requests: number },
  ) {}

  /**
   * One dump; null when it failed, the messages otherwise (possibly cut: marked truncated). A `fatal` request (the
   * source's first: links, qdiscs) that fails fails the source; a later one leaves it truncated, with the reason.
   */
  dump(op: string, type: number, payload: Buffer, fatal: boolean): NlMessage[] | null {
    if (this.status === 'failed') return null;
    if (performance.now() >= this.limits.deadline) {
      this.mark(fatal ? 'failed' : 'truncated', 'timeout', `${op} not sent: the read's deadline has passed`);
      return null;
    }
    const left = this.limits.maxBytes - this.kept;
    if (left <= 0) {
      this.mark('truncated', 'output_limit', `${op} not sent: the source's ${this.limits.maxBytes}-byte budget is spent`);
      return null;
    }
    this.counter.requests++;
    try {
      const r = this.sock.dump(op, type, payload, { maxBytes: left, deadline: this.limits.deadline });
      for (const m of r.messages) this.kept += m.payload.length;
      if (r.truncated) this.mark('truncated', 'output_limit', `${op} cut at the source's ${this.limits.maxBytes}-byte budget`);
      else if (r.interrupted) this.mark('truncated', 'vanished', `${op} was interrupted by concurrent changes on every attempt`);
      return r.messages;
    } catch (err) {
      const reason: NetnsErrorReason = err instanceof NetlinkError ? err.reason : 'spawn';
      this.mark(fatal ? 'failed' : 'truncated', reason, errorMessage(err));
      return null;
    }
  }

  /** Decode each message of `type`; a message that does not decode becomes an error (position, first bytes). */
  decode<T>(what: string, msgs: NlMessage[], type: number, fn: (payload: Buffer) => T): T[] {
    const out: T[] = [];
    msgs.forEach((m, i) => {
      if (m.type !== type) return;
      try {
        out.push(fn(m.payload));
      } catch (err) {
        this.errors.push(new ParseError(what, i + 1, m.payload.subarray(0, MAX_ERROR_BYTES).toString('hex'), errorMessage(err)));
      }
    });
    return out;
  }

  private mark(status: 'truncated' | 'failed', reason: NetnsErrorReason, message: string): void {
    if (this.status === 'failed') return;
    if (status === 'failed' || this.status === 'complete') {
      this.status = status;
      this.reason = reason;
      this.message = message;
    }
  }

  result(): SourceStatus {
    const s: SourceStatus = { source: this.name, status: this.status };
    if (this.reason !== undefined) s.reason = this.reason;
    if (this.message !== undefined) s.message = this.message;
    return s;
  }
}

function readLinks(src: SourceRead): { links: Link[]; addresses: Address[]; routes: Route[]; rules: IpRule[]; names: Map<number, string> } {
  const linkMsgs = src.dump('RTM_GETLINK dump', RTM_GETLINK, linkDumpRequest(), true) ?? [];
  const decoded: LinkMessage[] = src.decode('RTM_NEWLINK', linkMsgs, RTM_NEWLINK, decodeLinkMessage);
  const links = linksFromMessages(decoded);
  const names = new Map(links.map((l) => [l.index, l.name]));
  const nonNull = <T>(xs: (T | null)[]): T[] => xs.filter((x): x is T => x !== null);

  const addrMsgs = src.dump('RTM_GETADDR dump', RTM_GETADDR, familyRequest(IFADDRMSG_LEN, AF_UNSPEC), false) ?? [];
  const addresses = orderAddresses(
    nonNull(src.decode('RTM_NEWADDR', addrMsgs, RTM_NEWADDR, (p) => addressOf(decodeAddrMessage(p), names))),
    links.map((l) => l.index),
  );
  const routeMsgs = src.dump('RTM_GETROUTE dump', RTM_GETROUTE, familyRequest(RTMSG_LEN, AF_UNSPEC), false) ?? [];
  const routes = byFamily(nonNull(src.decode('RTM_NEWROUTE', routeMsgs, RTM_NEWROUTE, (p) => routeOf(decodeRouteMessage(p), names))));
  const ruleMsgs = src.dump('RTM_GETRULE dump', RTM_GETRULE, familyRequest(FIB_RULE_HDR_LEN, AF_UNSPEC), false) ?? [];
  const rules = byFamily(nonNull(src.decode('RTM_NEWRULE', ruleMsgs, RTM_NEWRULE, ruleOf)));
  return { links, addresses, routes, rules, names };
}

/** IPv4 entries before IPv6 ones (what `ip -4 ...` then `ip -6 ...` print), stable otherwise. */
function byFamily<T extends { family: 'ipv4' | 'ipv6' }>(xs: T[]): T[] {
  return [...xs.filter((x) => x.family === 'ipv4'), ...xs.filter((x) => x.family === 'ipv6')];
}

function byLink<T extends { interface: string }>(xs: T[], links: Link[]): T[] {
  const pos = new Map(links.map((l, i) => [l.name, i]));
  return xs
    .map((x, i) => ({ x, i }))
    .sort((a, b) => (pos.get(a.x.interface) ?? Infinity) - (pos.get(b.x.interface) ?? Infinity) || a.i - b.i)
    .map((e) => e.x);
}

function filterParentHandle(parent: string): number | null {
  if (parent === 'ingress') return TC_H_CLSACT_INGRESS;
  if (parent === 'egress') return TC_H_CLSACT_EGRESS;
  return parseHandle(parent);
}

function readTc(src: SourceRead, links: Link[], names: Map<number, string>, opts: RtnlOptions, inexact: string[]): TcDump {
  const ifname = (ix: number): string => names.get(ix) ?? `if${ix}`;
  const psched = opts.psched ?? DEFAULT_PSCHED;
  const qdiscMsgs = src.dump('RTM_GETQDISC dump', RTM_GETQDISC, tcRequest(0), true) ?? [];
  // Grouped per interface in link order (the kernel dumps qdiscs in its device-list order, which for links moved in
  // from another namespace differs from ifindex order): what `tc qdisc show dev X` per link prints.
  const qdiscs = byLink(src.decode('RTM_NEWQDISC', qdiscMsgs, RTM_NEWQDISC, (p) => decodeQdisc(p, ifname, psched, inexact)), links);
  // Interfaces whose qdiscs all have no classes (the kernel's class dump would be empty, as `tc class show` is) are
  // not asked: for a typical pod (noqueue on lo and eth0) that saves a request per interface.
  const classful = new Set(qdiscs.filter((q) => !CLASSLESS.has(q.kind)).map((q) => q.interface));
  const classes = links.filter((l) => classful.has(l.name)).flatMap((l) => {
    const msgs = src.dump(`RTM_GETTCLASS dump dev ${l.name}`, RTM_GETTCLASS, tcRequest(l.index), false) ?? [];
    return src.decode('RTM_NEWTCLASS', msgs, RTM_NEWTCLASS, (p) => decodeClass(p, ifname, inexact));
  });
  const ifindex = new Map(links.map((l) => [l.name, l.index]));
  const setName = opts.setName ?? (() => null);
  const filters: TcFilter[] = [];
  for (const fp of filterParents(qdiscs, classes)) {
    const ix = ifindex.get(fp.interface);
    const parent = filterParentHandle(fp.parent);
    if (ix === undefined || parent === null) continue;
    const msgs = src.dump(`RTM_GETTFILTER dump dev ${fp.interface} parent ${fp.parent}`, RTM_GETTFILTER, tcRequest(ix, parent), false) ?? [];
    const decoded = src.decode('RTM_NEWTFILTER', msgs, RTM_NEWTFILTER, (p) => {
      const before = inexact.length;
      const d = decodeFilter(p, { ifname, setName }, inexact);
      return { filter: d.filter, unreported: !d.exact && inexact.length === before };
    });
    for (const d of decoded) {
      if (d.filter === null) continue;
      filters.push(d.filter);
      if (d.unreported) inexact.push(`${d.filter.kind} filter pref ${d.filter.pref} on ${d.filter.interface} parent ${d.filter.parent}: ematch not rendered as tc prints it`);
    }
  }
  return { qdiscs, classes, filters, errors: src.errors };
}

/**
 * Read links, addresses, routes, rules and tc state over `sock` (a NETLINK_ROUTE socket of the namespace); tc over
 * `tcSock` when given (a dump cut at its cap leaves its socket unusable, so a cut `links` would otherwise cost tc).
 */
export function readRtnl(sock: NetlinkSocket, limits: RequestLimits, opts: RtnlOptions = {}, tcSock: NetlinkSocket = sock): RtnlRead {
  const counter = { requests: 0 };
  const linkSrc = new SourceRead('links', sock, limits, counter);
  const { links, addresses, routes, rules, names } = readLinks(linkSrc);
  const tcSrc = new SourceRead('tc', tcSock, limits, counter);
  const inexact: string[] = [];
  const tc = readTc(tcSrc, links, names, opts, inexact);
  for (const e of [...linkSrc.errors, ...tc.errors]) inexact.push(`${e.message}`);
  return {
    links,
    addresses,
    routes,
    rules,
    tc,
    sources: [linkSrc.result(), tcSrc.result()],
    linkErrors: linkSrc.errors,
    inexact,
    requests: counter.requests,
  };
}
