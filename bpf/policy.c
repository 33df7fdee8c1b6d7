// Tabby's eBPF policy program: a tc (clsact) classifier on each workload's host-side interface
// and on each host interface a host endpoint names.
// It does not contain any policy. It interprets the per-endpoint instruction arrays that
// src/agent/dataplane/maps/compile.ts makes (encoded to fixed-size ops by
// src/agent/dataplane/bpf/encode.ts) from pinned maps, so a policy change is a map write, never
// a program load. Layout of every map and op is mirrored in src/agent/dataplane/bpf/layout.ts:
// change both together.
//
// Per packet: non-IP passes (ARP, which proxy-ARP needs); an IP packet of a known connection
// (conntrack entry written by this program when it allowed the first packet) passes; otherwise
// the endpoint's program for this direction runs from its first op to a verdict, in a bpf_loop
// (the verifier checks the step once, whatever the program length).
//
// A host endpoint's interface runs the stages iptables spreads over raw, mangle and filter
// (src/agent/dataplane/rules/host-layout.ts), each an op program: doNotTrack policy before
// conntrack (an allow passes without a conntrack entry), then conntrack, preDNAT policy
// (ingress), then — for traffic to or from the host itself — the failsafe ports and the normal
// policy and profiles, or — for forwarded traffic — the applyOnForward policy (none: allowed).
// A FIB lookup tells traffic to the host from forwarded traffic at ingress; at egress, a packet
// the host sent has no ingress interface.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- ops (layout.ts: OP_*) ---- */
#define OP_RULE 1         /* a rule starts: b = index of the next rule (where a failed term goes) */
#define OP_ACTION 2       /* all terms held: flags = ACT_*; pass goes to the calling OP_CALL's c */
#define OP_TIER_END 3     /* flags 1: drop (tier default deny), 0: fall through */
#define OP_DROP 4         /* final drop / missing profile */
#define OP_END 5          /* end of a stage without a verdict (no policy: pass) */
#define OP_IP_VERSION 10       /* a = 4 or 6 */
#define OP_PROTO 11       /* a = protocol (0xffff matches nothing); NEG: must differ */
#define OP_ICMP 12        /* a = type, b = code or 0xffffffff; NEG: notIcmpType/Code */
#define OP_SET 13         /* SIDE: address in set b; NEG: not in it */
#define OP_PORTS_BEGIN 14 /* SIDE: an OR group of ports / named ports starts; no port fails */
#define OP_PORT_RANGE 15  /* SIDE: a..b; in a group: marks a hit; NEG: a port in range fails */
#define OP_NAMED_PORT 16  /* SIDE: (addr, port, proto) in set b; in a group: hit; NEG: in it fails */
#define OP_PORTS_END 17   /* no hit in the group fails */
#define OP_SERVICE 18     /* SIDE: (addr, proto, port) in set b, else fail */
#define OP_CALL 19        /* run the fragment at b (one policy's or profile's rules); its Pass goes to c */
#define OP_RET 20         /* end of a fragment: back after its call */

#define F_DST 1
#define F_NEG 2

#define ACT_ALLOW 1
#define ACT_DENY 2
#define ACT_PASS 3
#define ACT_LOG 4

#define MAX_STEPS (1 << 20)

struct op {
	__u8 code;
	__u8 flags;
	__u16 a;
	__u32 b;
	__u32 c;
	__u32 d;
};

/* Endpoint entry, per (ifindex, slot): the op index of each stage's program (layout.ts: STAGES). */
struct ep_key {
	__u32 ifindex;
	__u32 slot;
};
#define NO_PROG 0xffffffff
#define EP_HOST 1         /* a host endpoint: the host stages below apply */
#define EP_TO_HOST_DROP 2 /* a workload: DefaultEndpointToHostAction Drop */
struct ep_val {
	__u32 tc_in;   /* workload: its egress policy; host endpoint: failsafes + ingress policy */
	__u32 tc_out;  /* workload: its ingress policy; host endpoint: failsafes + egress policy */
	__u32 raw_in;  /* host: failsafe skips + doNotTrack ingress, or NO_PROG */
	__u32 raw_out; /* host: failsafe skips + doNotTrack egress, or NO_PROG */
	__u32 pre_in;  /* host: failsafes + preDNAT ingress, or NO_PROG */
	__u32 fwd_in;  /* host: applyOnForward ingress, or NO_PROG (forwarding allowed) */
	__u32 fwd_out; /* host: applyOnForward egress, or NO_PROG */
	__u32 flags;   /* EP_* */
};

/* One LPM trie for every IP set, net list, named-port and service set. */
struct set_key {
	__u32 prefixlen;
	__u32 set_id;
	__u16 port; /* 0 for IP sets */
	__u8 proto; /* 0 for IP sets */
	__u8 family;
	__u8 addr[16];
};

struct ct_key {
	__u32 ifindex;
	__u8 hook; /* 0: from the workload, 1: to it — where the first packet was allowed */
	__u8 proto;
	__u8 family;
	__u8 pad;
	__u16 sport;
	__u16 dport;
	__u8 src[16];
	__u8 dst[16];
};
struct ct_val {
	__u64 seen_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	/* 16 MiB: the 50k-endpoint bench's busiest node needs 157k ops, and a changed program
	 * needs a fresh range while the old one is still live. */
	__uint(max_entries, 1048576);
	__type(key, __u32);
	__type(value, struct op);
} tabby_code SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ep_key);
	__type(value, struct ep_val);
} tabby_eps SEC(".maps");

/* [0]: the active slot (0 or 1) — flipping it is how a new policy version takes effect. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tabby_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1048576);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct set_key);
	__type(value, __u8);
} tabby_sets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct ct_key);
	__type(value, struct ct_val);
} tabby_ct SEC(".maps");

/* Counters (layout.ts: CNT_*): allowed by policy, denied, conntrack hits, no endpoint entry. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} tabby_counters SEC(".maps");

struct pkt {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u8 has_ports;
	__u8 is_icmp;
	__u8 icmp_type;
	__u8 icmp_code;
	/* ICMP errors: the embedded packet's tuple, for RELATED. */
	__u8 has_inner;
	__u8 inner_proto;
	__u16 inner_sport;
	__u16 inner_dport;
	__u8 inner_src[16];
	__u8 inner_dst[16];
};

struct run {
	struct pkt *p;
	__u32 pc;
	__u32 fail; /* where a failed term of the current rule jumps */
	__u32 ret;  /* after the current fragment's call */
	__u32 pass_to; /* where the current fragment's Pass goes */
	__u8 hit;   /* an OR group of ports had a hit */
	__u8 done;
	__u8 allow;
	__u8 error;
};

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&tabby_counters, &which);
	if (v)
		*v += 1;
}

static __always_inline int in_set(struct pkt *p, __u32 set_id, int dst, __u16 port, __u8 proto)
{
	struct set_key k = {};
	k.prefixlen = 64 + (p->family == 4 ? 32 : 128);
	k.set_id = set_id;
	k.port = port;
	k.proto = proto;
	k.family = p->family;
	if (dst)
		__builtin_memcpy(k.addr, p->dst, 16);
	else
		__builtin_memcpy(k.addr, p->src, 16);
	return bpf_map_lookup_elem(&tabby_sets, &k) != NULL;
}

static long step(__u32 i, void *ctx)
{
	struct run *r = ctx;
	struct pkt *p = r->p;
	__u32 pc = r->pc;
	struct op *o = bpf_map_lookup_elem(&tabby_code, &pc);
	if (!o) {
		r->error = 1;
		return 1;
	}
	r->pc = pc + 1;
	int dst = o->flags & F_DST;
	int neg = (o->flags & F_NEG) != 0;
	__u16 port = dst ? p->dport : p->sport;
	int ok = 1;
	switch (o->code) {
	case OP_RULE:
		r->fail = o->b;
		r->hit = 0;
		return 0;
	case OP_ACTION:
		switch (o->flags) {
		case ACT_ALLOW:
			r->done = 1;
			r->allow = 1;
			return 1;
		case ACT_DENY:
			r->done = 1;
			return 1;
		case ACT_PASS:
			r->pc = r->pass_to;
			return 0;
		default: /* log: recorded by explain(), not by the kernel */
			return 0;
		}
	case OP_TIER_END:
		if (o->flags) {
			r->done = 1;
			return 1;
		}
		return 0;
	case OP_DROP:
		r->done = 1;
		return 1;
	case OP_END:
		return 1;
	case OP_CALL:
		r->ret = pc + 1;
		r->pass_to = o->c;
		r->pc = o->b;
		return 0;
	case OP_RET:
		r->pc = r->ret;
		return 0;
	case OP_IP_VERSION:
		ok = p->family == o->a;
		break;
	case OP_PROTO:
		ok = (p->proto == o->a) != neg;
		break;
	case OP_ICMP: {
		int t = p->is_icmp && p->icmp_type == o->a;
		int cm = o->b == 0xffffffff || (p->is_icmp && p->icmp_code == o->b);
		ok = neg ? !(t && cm) : (t && cm);
		break;
	}
	case OP_SET:
		ok = in_set(p, o->b, dst, 0, 0) != neg;
		break;
	case OP_PORTS_BEGIN:
		r->hit = 0;
		ok = p->has_ports;
		break;
	case OP_PORT_RANGE: {
		int in = p->has_ports && port >= o->a && port <= o->b;
		if (neg)
			ok = !in;
		else if (in)
			r->hit = 1;
		break;
	}
	case OP_NAMED_PORT: {
		int in = p->has_ports && in_set(p, o->b, dst, port, p->proto);
		if (neg)
			ok = !in;
		else if (in)
			r->hit = 1;
		break;
	}
	case OP_PORTS_END:
		ok = r->hit;
		break;
	case OP_SERVICE:
		ok = p->has_ports && in_set(p, o->b, dst, port, p->proto);
		break;
	default:
		r->error = 1;
		return 1;
	}
	if (!ok)
		r->pc = r->fail;
	return 0;
}

static __always_inline int parse_ports(struct __sk_buff *skb, __u32 off, __u8 proto, __u16 *sport,
				       __u16 *dport)
{
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP && proto != 136)
		return 0;
	__u16 ports[2];
	if (bpf_skb_load_bytes(skb, off, ports, 4))
		return 0;
	*sport = bpf_ntohs(ports[0]);
	*dport = bpf_ntohs(ports[1]);
	return 1;
}

/* The L3/L4 header at `off` (family 4 or 6) into addresses, proto and ports; 0 if short. */
static __always_inline int parse_l3(struct __sk_buff *skb, __u32 off, __u8 family, __u8 *src, __u8 *dst,
				    __u8 *proto, __u32 *l4off)
{
	if (family == 4) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
			return 0;
		__builtin_memcpy(src, &ip.saddr, 4);
		__builtin_memcpy(dst, &ip.daddr, 4);
		*proto = ip.protocol;
		*l4off = off + ip.ihl * 4;
		return 1;
	}
	struct ipv6hdr ip6;
	if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)))
		return 0;
	__builtin_memcpy(src, &ip6.saddr, 16);
	__builtin_memcpy(dst, &ip6.daddr, 16);
	*proto = ip6.nexthdr;
	*l4off = off + sizeof(ip6);
	return 1;
}

static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	__u32 l4;
	__u16 eth_proto = bpf_ntohs(skb->protocol);
	if (eth_proto == ETH_P_IP)
		p->family = 4;
	else if (eth_proto == ETH_P_IPV6)
		p->family = 6;
	else
		return 0;
	if (!parse_l3(skb, ETH_HLEN, p->family, p->src, p->dst, &p->proto, &l4))
		return -1;
	p->has_ports = parse_ports(skb, l4, p->proto, &p->sport, &p->dport);
	if ((p->family == 4 && p->proto == IPPROTO_ICMP) || (p->family == 6 && p->proto == IPPROTO_ICMPV6)) {
		__u8 tc[2];
		if (bpf_skb_load_bytes(skb, l4, tc, 2))
			return -1;
		p->is_icmp = 1;
		p->icmp_type = tc[0];
		p->icmp_code = tc[1];
		/* Errors quoting a packet: v4 unreachable / time exceeded / param problem,
		 * v6 unreachable / too big / time exceeded / param problem. */
		int err = p->family == 4 ? (tc[0] == 3 || tc[0] == 11 || tc[0] == 12) : (tc[0] >= 1 && tc[0] <= 4);
		if (err) {
			__u32 inner_l4;
			if (parse_l3(skb, l4 + 8, p->family, p->inner_src, p->inner_dst, &p->inner_proto, &inner_l4) &&
			    parse_ports(skb, inner_l4, p->inner_proto, &p->inner_sport, &p->inner_dport))
				p->has_inner = 1;
		}
	}
	return 1;
}

#define CT_TIMEOUT_NS (3600ULL * 1000000000ULL)

static __always_inline int ct_fresh(struct ct_key *k, int refresh)
{
	struct ct_val *v = bpf_map_lookup_elem(&tabby_ct, k);
	if (!v)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	if (now - v->seen_ns > CT_TIMEOUT_NS)
		return 0;
	/* Refresh at most once a second: a write per packet would bounce the cache line. */
	if (refresh && now - v->seen_ns > 1000000000ULL)
		v->seen_ns = now;
	return 1;
}

static __always_inline void ct_tuple(struct ct_key *k, __u32 ifindex, __u8 hook, __u8 family, __u8 proto,
				     const __u8 *src, const __u8 *dst, __u16 sport, __u16 dport)
{
	k->ifindex = ifindex;
	k->hook = hook;
	k->family = family;
	k->proto = proto;
	k->pad = 0;
	k->sport = sport;
	k->dport = dport;
	__builtin_memcpy(k->src, src, 16);
	__builtin_memcpy(k->dst, dst, 16);
}

/* Established (this hook allowed the tuple), reply (the other hook allowed its reverse), or an
 * ICMP error about a connection the other hook allowed (RELATED). */
static __always_inline int ct_known(struct pkt *p, __u32 ifindex, __u8 hook)
{
	struct ct_key k = {};
	ct_tuple(&k, ifindex, hook, p->family, p->proto, p->src, p->dst, p->sport, p->dport);
	if (ct_fresh(&k, 1))
		return 1;
	ct_tuple(&k, ifindex, !hook, p->family, p->proto, p->dst, p->src, p->dport, p->sport);
	if (ct_fresh(&k, 1))
		return 1;
	if (p->has_inner) {
		ct_tuple(&k, ifindex, !hook, p->family, p->inner_proto, p->inner_src, p->inner_dst, p->inner_sport,
			 p->inner_dport);
		if (ct_fresh(&k, 0))
			return 1;
	}
	return 0;
}

#define V_NONE 0
#define V_ALLOW 1
#define V_DENY 2

/* One program from its first op; a program that ends without a verdict gives V_NONE. A global
 * function: the verifier checks it (and its bpf_loop) once, not at each of its call sites. */
__attribute__((noinline)) int run_prog(struct pkt *p, __u32 pc)
{
	if (!p)
		return V_DENY;
	if (pc == NO_PROG)
		return V_NONE;
	struct run r = { .p = p, .pc = pc };
	bpf_loop(MAX_STEPS, step, &r, 0);
	if (r.error)
		return V_DENY;
	if (!r.done)
		return V_NONE;
	return r.allow ? V_ALLOW : V_DENY;
}

/* Whether the kernel would deliver the packet arriving on this interface to the host itself
 * (a local route, or forwarding off so nothing is forwarded), as iptables' INPUT sees it. */
static __always_inline int to_host(struct __sk_buff *skb, struct pkt *p)
{
	struct bpf_fib_lookup f = {};
	f.ifindex = skb->ingress_ifindex;
	f.l4_protocol = p->proto;
	if (p->family == 4) {
		f.family = 2; /* AF_INET */
		__builtin_memcpy(&f.ipv4_src, p->src, 4);
		__builtin_memcpy(&f.ipv4_dst, p->dst, 4);
	} else {
		f.family = 10; /* AF_INET6 */
		__builtin_memcpy(f.ipv6_src, p->src, 16);
		__builtin_memcpy(f.ipv6_dst, p->dst, 16);
	}
	long rc = bpf_fib_lookup(skb, &f, sizeof(f), 0);
	return rc == BPF_FIB_LKUP_RET_NOT_FWDED || rc == BPF_FIB_LKUP_RET_FWD_DISABLED;
}

static __always_inline int allow(struct pkt *p, __u32 ifindex, __u8 hook)
{
	/* Remember the connection: its later packets and replies skip policy. */
	struct ct_key k = {};
	ct_tuple(&k, ifindex, hook, p->family, p->proto, p->src, p->dst, p->sport, p->dport);
	struct ct_val v = { .seen_ns = bpf_ktime_get_ns() };
	bpf_map_update_elem(&tabby_ct, &k, &v, BPF_ANY);
	count(0);
	return TC_ACT_OK;
}

static __always_inline int deny(void)
{
	count(1);
	return TC_ACT_SHOT;
}

static __always_inline int judge_host(struct __sk_buff *skb, struct pkt *p, struct ep_val *ep, __u8 hook)
{
	__u32 ifindex = skb->ifindex;
	/* raw: doNotTrack policy sees every packet (failsafe flows skip it); its allow is final
	 * and leaves no conntrack entry, so replies need their own allow. */
	int v = run_prog(p, hook ? ep->raw_out : ep->raw_in);
	if (v == V_ALLOW) {
		count(0);
		return TC_ACT_OK;
	}
	if (v == V_DENY)
		return deny();
	if (ct_known(p, ifindex, hook)) {
		count(2);
		return TC_ACT_OK;
	}
	if (!hook) {
		v = run_prog(p, ep->pre_in);
		if (v == V_ALLOW)
			return allow(p, ifindex, hook);
		if (v == V_DENY)
			return deny();
	}
	/* At egress, a packet the host sent (not one it forwards) has no ingress interface. */
	int local = hook ? skb->ingress_ifindex == 0 : to_host(skb, p);
	__u32 pc = local ? (hook ? ep->tc_out : ep->tc_in) : (hook ? ep->fwd_out : ep->fwd_in);
	if (run_prog(p, pc) == V_DENY)
		return deny();
	return allow(p, ifindex, hook);
}

static __always_inline int judge(struct __sk_buff *skb, __u8 hook)
{
	struct pkt p = {};
	int parsed = parse(skb, &p);
	if (parsed == 0)
		return TC_ACT_OK;
	if (parsed < 0)
		return TC_ACT_SHOT;
	__u32 ifindex = skb->ifindex;
	__u32 zero = 0;
	__u32 *slot = bpf_map_lookup_elem(&tabby_active, &zero);
	if (!slot)
		return TC_ACT_SHOT;
	struct ep_key ek = { .ifindex = ifindex, .slot = *slot };
	struct ep_val *ep = bpf_map_lookup_elem(&tabby_eps, &ek);
	if (!ep) {
		/* Attached to an interface with no endpoint in this version: as iptables' dispatch
		 * drops traffic of an unknown workload interface. */
		count(3);
		return TC_ACT_SHOT;
	}
	if (ep->flags & EP_HOST)
		return judge_host(skb, &p, ep, hook);
	if (ct_known(&p, ifindex, hook)) {
		count(2);
		return TC_ACT_OK;
	}
	/* The host itself -> a local workload (sent here, so no ingress interface): not policed, as
	 * iptables' OUTPUT returns for workload interfaces (Felix). Tracked, so the workload's
	 * replies pass its egress policy. */
	if (hook && skb->ingress_ifindex == 0)
		return allow(&p, ifindex, hook);
	/* tc ingress of a workload interface runs its egress policy, tc egress its ingress policy. */
	if (run_prog(&p, hook ? ep->tc_out : ep->tc_in) == V_DENY)
		return deny();
	/* Workload -> its own host: after the workload's egress policy, DefaultEndpointToHostAction
	 * (iptables: the wl-to-host chain; a host endpoint's policy never sees it). */
	if (!hook && (ep->flags & EP_TO_HOST_DROP) && to_host(skb, &p))
		return deny();
	return allow(&p, ifindex, hook);
}

SEC("tc")
int tabby_from_wl(struct __sk_buff *skb)
{
	return judge(skb, 0);
}

SEC("tc")
int tabby_to_wl(struct __sk_buff *skb)
{
	return judge(skb, 1);
}
