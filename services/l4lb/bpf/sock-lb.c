// SPDX-License-Identifier: GPL-2.0
/*
 * dcnet l4lb socket LB: cgroup `connect4` / `connect6` programs that pick a VIP's backend when a
 * socket in the cgroup connects, so the connection is made to the backend itself and its packets
 * need no NAT (no per-packet re-route after an output-hook DNAT). TCP and UDP, IPv4 and IPv6.
 *
 * UDP: `sendmsg4|6` does the same for a datagram sent to a VIP from an unconnected socket, keeping
 * the socket's backend for that VIP (`udpaff`) until the VIP's slots change; `recvmsg4|6` turns the
 * source of a datagram from that backend back into the VIP (`udprev`), since resolvers (glibc,
 * c-ares) drop a reply that does not come from the address they asked.
 *
 * Maps (filled by services/l4lb/src/sock-lb.ts through bpftool):
 *   vips   { ip (network order), port (network order), proto, 0 } -> { id, slots }
 *   slots  { id, slot }                                            -> { ip, port (network order), 0 }
 *   netns  { netns cookie } -> 1: the network namespaces whose sockets are balanced
 *   config [0] learn: while 1, a UDP connect to 127.0.0.127:1 adds its socket's netns to `netns`
 *   revnat { socket cookie } -> the VIP it connected to and the backend chosen: `getpeername` shows
 *          the VIP while the socket's peer is that backend, as with DNAT
 *   udprev { socket cookie, backend } -> the VIP: the source `recvmsg` shows (UDP)
 *   udpaff { socket cookie, VIP } -> { backend, the VIP's slots id }: an unconnected UDP socket's backend
 *   vips6, slots6, revnat6, udprev6, udpaff6: the same for IPv6 (16-byte addresses); the netns
 *          probe is IPv4 only
 * A VIP's slots are written under a new id before its `vips` entry points at them, so a connect
 * never sees half a change. A connect to a VIP that is not in `vips` (or whose slot is missing),
 * or from a network namespace that is not the node's (a bridge-mode task: its own address would
 * reach the backend unmasqueraded), is left alone: the nftables table still balances it.
 *
 * `getpeername4|6` give the application the VIP it connected to, as a DNAT-ed connection would.
 *
 * Built by the image's build stage (Dockerfile), or at run time where the image's object is not
 * there: clang -O2 -g -target bpf -c sock-lb.c (no libbpf headers needed).
 */
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static __u32 (*bpf_get_prandom_u32)(void) = (void *)BPF_FUNC_get_prandom_u32;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)BPF_FUNC_map_update_elem;
static __u64 (*bpf_get_netns_cookie)(void *ctx) = (void *)BPF_FUNC_get_netns_cookie;
static __u64 (*bpf_get_socket_cookie)(void *ctx) = (void *)BPF_FUNC_get_socket_cookie;

#define INLINE static inline __attribute__((always_inline))
#define TCP 6
#define UDP 17

/* 127.0.0.127:1 (UDP), in network order as the context holds them. */
#define PROBE_IP 0x7f00007f
#define PROBE_PORT 0x0100

#define LRU(name, k, v)                                                                            \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_LRU_HASH);                                               \
		__uint(max_entries, 65536);                                                        \
		__type(key, k);                                                                    \
		__type(value, v);                                                                  \
	} name SEC(".maps")
#define HASH(name, k, v, n)                                                                        \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_HASH);                                                   \
		__uint(max_entries, n);                                                            \
		__uint(map_flags, BPF_F_NO_PREALLOC);                                              \
		__type(key, k);                                                                    \
		__type(value, v);                                                                  \
	} name SEC(".maps")

/* An address and port, both in network order; 8 bytes (IPv4) and 20 bytes (IPv6), no holes. */
struct addr4 {
	__u32 ip;
	__u16 port;
	__u16 pad;
};
struct addr6 {
	__u32 ip[4];
	__u16 port;
	__u16 pad;
};
struct vip_key {
	__u32 ip;
	__u16 port;
	__u8 proto;
	__u8 pad;
};
struct vip6_key {
	__u32 ip[4];
	__u16 port;
	__u8 proto;
	__u8 pad;
};
struct vip_val {
	__u32 id;
	__u32 slots;
};
struct slot_key {
	__u32 id;
	__u32 slot;
};
struct nat4 {
	struct addr4 vip;
	struct addr4 be;
};
struct nat6 {
	struct addr6 vip;
	struct addr6 be;
};
struct sock4_key {
	__u64 cookie;
	struct addr4 a;
};
struct sock6_key {
	__u64 cookie;
	struct addr6 a;
	__u32 pad;
};
struct aff4 {
	struct addr4 be;
	__u32 id;
	__u32 pad;
};
struct aff6 {
	struct addr6 be;
	__u32 id;
};

HASH(vips, struct vip_key, struct vip_val, 65536);
HASH(slots, struct slot_key, struct addr4, 1048576);
HASH(vips6, struct vip6_key, struct vip_val, 65536);
HASH(slots6, struct slot_key, struct addr6, 1048576);
/* Socket cookies are never reused, so a closed socket's entries are only ever evicted (LRU). */
LRU(revnat, __u64, struct nat4);
LRU(revnat6, __u64, struct nat6);
LRU(udprev, struct sock4_key, struct addr4);
LRU(udprev6, struct sock6_key, struct addr6);
LRU(udpaff, struct sock4_key, struct aff4);
LRU(udpaff6, struct sock6_key, struct aff6);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u64);
	__type(value, __u8);
} netns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

INLINE int node_ns(struct bpf_sock_addr *ctx)
{
	__u64 ns = bpf_get_netns_cookie(ctx);
	return bpf_map_lookup_elem(&netns, &ns) != 0;
}

INLINE void *pick(void *slots_map, struct vip_val *v)
{
	struct slot_key s = {};
	s.id = v->id;
	s.slot = bpf_get_prandom_u32() % v->slots;
	return bpf_map_lookup_elem(slots_map, &s);
}

/* ---- IPv4 ---- */

INLINE struct vip_val *vip4(struct bpf_sock_addr *ctx, __u8 proto, struct addr4 *vip)
{
	struct vip_key k = {};
	k.ip = ctx->user_ip4;
	k.port = (__u16)ctx->user_port;
	k.proto = proto;
	vip->ip = k.ip;
	vip->port = k.port;
	vip->pad = 0;
	struct vip_val *v = bpf_map_lookup_elem(&vips, &k);
	return v && v->slots ? v : 0;
}

INLINE void remember_udp4(__u64 cookie, struct addr4 *be, struct addr4 *vip)
{
	struct sock4_key rk = {};
	rk.cookie = cookie;
	rk.a = *be;
	bpf_map_update_elem(&udprev, &rk, vip, BPF_ANY);
}

SEC("cgroup/connect4")
int dcnet_connect4(struct bpf_sock_addr *ctx)
{
	__u8 proto = (__u8)ctx->protocol;
	if (ctx->user_ip4 == PROBE_IP && ctx->user_port == PROBE_PORT && proto == UDP) {
		__u64 ns = bpf_get_netns_cookie(ctx);
		__u32 zero = 0;
		__u32 *learn = bpf_map_lookup_elem(&config, &zero);
		__u8 one = 1;
		if (learn && *learn)
			bpf_map_update_elem(&netns, &ns, &one, BPF_ANY);
		return 1;
	}
	if ((proto != TCP && proto != UDP) || !node_ns(ctx))
		return 1;
	struct nat4 n = {};
	struct vip_val *v = vip4(ctx, proto, &n.vip);
	if (!v)
		return 1;
	struct addr4 *b = pick(&slots, v);
	if (!b)
		return 1;
	n.be = *b;
	__u64 cookie = bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&revnat, &cookie, &n, BPF_ANY);
	if (proto == UDP)
		remember_udp4(cookie, &n.be, &n.vip);
	ctx->user_ip4 = n.be.ip;
	ctx->user_port = n.be.port;
	return 1;
}

SEC("cgroup/sendmsg4")
int dcnet_sendmsg4(struct bpf_sock_addr *ctx)
{
	if (!node_ns(ctx))
		return 1;
	struct addr4 vip;
	struct vip_val *v = vip4(ctx, UDP, &vip);
	if (!v)
		return 1;
	struct sock4_key ak = {};
	ak.cookie = bpf_get_socket_cookie(ctx);
	ak.a = vip;
	struct aff4 *a = bpf_map_lookup_elem(&udpaff, &ak);
	struct aff4 na = {};
	if (a && a->id == v->id) {
		na = *a;
	} else {
		struct addr4 *b = pick(&slots, v);
		if (!b)
			return 1;
		na.be = *b;
		na.id = v->id;
		bpf_map_update_elem(&udpaff, &ak, &na, BPF_ANY);
	}
	remember_udp4(ak.cookie, &na.be, &vip);
	ctx->user_ip4 = na.be.ip;
	ctx->user_port = na.be.port;
	return 1;
}

SEC("cgroup/recvmsg4")
int dcnet_recvmsg4(struct bpf_sock_addr *ctx)
{
	struct sock4_key rk = {};
	rk.cookie = bpf_get_socket_cookie(ctx);
	rk.a.ip = ctx->user_ip4;
	rk.a.port = (__u16)ctx->user_port;
	struct addr4 *vip = bpf_map_lookup_elem(&udprev, &rk);
	if (vip) {
		ctx->user_ip4 = vip->ip;
		ctx->user_port = vip->port;
	}
	return 1;
}

SEC("cgroup/getpeername4")
int dcnet_getpeername4(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct nat4 *n = bpf_map_lookup_elem(&revnat, &cookie);
	/* Only while the socket is still connected to the backend chosen (a UDP socket can connect again). */
	if (!n || n->be.ip != ctx->user_ip4 || n->be.port != (__u16)ctx->user_port)
		return 1;
	ctx->user_ip4 = n->vip.ip;
	ctx->user_port = n->vip.port;
	return 1;
}

/* ---- IPv6 ---- */

INLINE void get6(struct bpf_sock_addr *ctx, struct addr6 *a)
{
	a->ip[0] = ctx->user_ip6[0];
	a->ip[1] = ctx->user_ip6[1];
	a->ip[2] = ctx->user_ip6[2];
	a->ip[3] = ctx->user_ip6[3];
	a->port = (__u16)ctx->user_port;
	a->pad = 0;
}

INLINE void set6(struct bpf_sock_addr *ctx, struct addr6 *a)
{
	ctx->user_ip6[0] = a->ip[0];
	ctx->user_ip6[1] = a->ip[1];
	ctx->user_ip6[2] = a->ip[2];
	ctx->user_ip6[3] = a->ip[3];
	ctx->user_port = a->port;
}

INLINE int same6(struct addr6 *a, struct addr6 *b)
{
	return a->ip[0] == b->ip[0] && a->ip[1] == b->ip[1] && a->ip[2] == b->ip[2] && a->ip[3] == b->ip[3] &&
	       a->port == b->port;
}

INLINE struct vip_val *vip6(struct bpf_sock_addr *ctx, __u8 proto, struct addr6 *vip)
{
	get6(ctx, vip);
	struct vip6_key k = {};
	k.ip[0] = vip->ip[0];
	k.ip[1] = vip->ip[1];
	k.ip[2] = vip->ip[2];
	k.ip[3] = vip->ip[3];
	k.port = vip->port;
	k.proto = proto;
	struct vip_val *v = bpf_map_lookup_elem(&vips6, &k);
	return v && v->slots ? v : 0;
}

INLINE void remember_udp6(__u64 cookie, struct addr6 *be, struct addr6 *vip)
{
	struct sock6_key rk = {};
	rk.cookie = cookie;
	rk.a = *be;
	bpf_map_update_elem(&udprev6, &rk, vip, BPF_ANY);
}

SEC("cgroup/connect6")
int dcnet_connect6(struct bpf_sock_addr *ctx)
{
	__u8 proto = (__u8)ctx->protocol;
	if ((proto != TCP && proto != UDP) || !node_ns(ctx))
		return 1;
	struct nat6 n = {};
	struct vip_val *v = vip6(ctx, proto, &n.vip);
	if (!v)
		return 1;
	struct addr6 *b = pick(&slots6, v);
	if (!b)
		return 1;
	n.be = *b;
	__u64 cookie = bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&revnat6, &cookie, &n, BPF_ANY);
	if (proto == UDP)
		remember_udp6(cookie, &n.be, &n.vip);
	set6(ctx, &n.be);
	return 1;
}

SEC("cgroup/sendmsg6")
int dcnet_sendmsg6(struct bpf_sock_addr *ctx)
{
	if (!node_ns(ctx))
		return 1;
	struct sock6_key ak = {};
	struct vip_val *v = vip6(ctx, UDP, &ak.a);
	if (!v)
		return 1;
	ak.cookie = bpf_get_socket_cookie(ctx);
	struct aff6 *a = bpf_map_lookup_elem(&udpaff6, &ak);
	struct aff6 na = {};
	if (a && a->id == v->id) {
		na = *a;
	} else {
		struct addr6 *b = pick(&slots6, v);
		if (!b)
			return 1;
		na.be = *b;
		na.id = v->id;
		bpf_map_update_elem(&udpaff6, &ak, &na, BPF_ANY);
	}
	remember_udp6(ak.cookie, &na.be, &ak.a);
	set6(ctx, &na.be);
	return 1;
}

SEC("cgroup/recvmsg6")
int dcnet_recvmsg6(struct bpf_sock_addr *ctx)
{
	struct sock6_key rk = {};
	rk.cookie = bpf_get_socket_cookie(ctx);
	get6(ctx, &rk.a);
	struct addr6 *vip = bpf_map_lookup_elem(&udprev6, &rk);
	if (vip)
		set6(ctx, vip);
	return 1;
}

SEC("cgroup/getpeername6")
int dcnet_getpeername6(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct nat6 *n = bpf_map_lookup_elem(&revnat6, &cookie);
	if (!n)
		return 1;
	struct addr6 peer;
	get6(ctx, &peer);
	if (!same6(&n->be, &peer))
		return 1;
	set6(ctx, &n->vip);
	return 1;
}

char _license[] SEC("license") = "GPL";
