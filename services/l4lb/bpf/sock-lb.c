// SPDX-License-Identifier: GPL-2.0
/*
 * dcnet l4lb socket LB: cgroup `connect4` / `connect6` programs that pick a VIP's backend when a
 * socket in the cgroup connects, so the connection is made to the backend itself and its packets
 * need no NAT (no per-packet re-route after an output-hook DNAT). TCP over IPv4 and IPv6. Not
 * UDP: a UDP client that checks where a reply comes from (c-ares, glibc's resolver) would see the
 * backend, not the VIP, without a recvmsg4 program that translates back.
 *
 * Maps (filled by services/l4lb/src/sock-lb.ts through bpftool):
 *   vips   { ip (network order), port (network order), proto, 0 } -> { id, slots }
 *   slots  { id, slot }                                            -> { ip, port (network order), 0 }
 *   netns  { netns cookie } -> 1: the network namespaces whose sockets are balanced
 *   config [0] learn: while 1, a UDP connect to 127.0.0.127:1 adds its socket's netns to `netns`
 *   revnat { socket cookie } -> the VIP it connected to: `getpeername` shows the VIP, as with DNAT
 *   vips6, slots6, revnat6: the same for IPv6 (16-byte addresses); the netns probe is IPv4 only
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

/* 127.0.0.127:1 (UDP), in network order as the context holds them. */
#define PROBE_IP 0x7f00007f
#define PROBE_PORT 0x0100

struct vip_key {
	__u32 ip;
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
struct backend {
	__u32 ip;
	__u16 port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vip_key);
	__type(value, struct vip_val);
} vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1048576);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct slot_key);
	__type(value, struct backend);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u64);
	__type(value, __u8);
} netns SEC(".maps");

struct vip_addr {
	__u32 ip;
	__u16 port;
	__u16 pad;
};

/* Socket cookies are never reused, so a closed socket's entry is only ever evicted (LRU). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct vip_addr);
} revnat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

SEC("cgroup/connect4")
int dcnet_connect4(struct bpf_sock_addr *ctx)
{
	__u64 ns = bpf_get_netns_cookie(ctx);
	if (ctx->user_ip4 == PROBE_IP && ctx->user_port == PROBE_PORT && ctx->protocol == 17 /* UDP */) {
		__u32 zero = 0;
		__u32 *learn = bpf_map_lookup_elem(&config, &zero);
		__u8 one = 1;
		if (learn && *learn)
			bpf_map_update_elem(&netns, &ns, &one, BPF_ANY);
		return 1;
	}
	if (ctx->protocol != 6 /* TCP */ || !bpf_map_lookup_elem(&netns, &ns))
		return 1;
	struct vip_key k = {};
	k.ip = ctx->user_ip4;
	k.port = (__u16)ctx->user_port;
	k.proto = (__u8)ctx->protocol;
	struct vip_val *v = bpf_map_lookup_elem(&vips, &k);
	if (!v || v->slots == 0)
		return 1;
	struct slot_key s = {};
	s.id = v->id;
	s.slot = bpf_get_prandom_u32() % v->slots;
	struct backend *b = bpf_map_lookup_elem(&slots, &s);
	if (!b)
		return 1;
	struct vip_addr orig = {};
	orig.ip = k.ip;
	orig.port = k.port;
	__u64 cookie = bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&revnat, &cookie, &orig, BPF_ANY);
	ctx->user_ip4 = b->ip;
	ctx->user_port = b->port;
	return 1;
}

SEC("cgroup/getpeername4")
int dcnet_getpeername4(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct vip_addr *orig = bpf_map_lookup_elem(&revnat, &cookie);
	if (!orig)
		return 1;
	ctx->user_ip4 = orig->ip;
	ctx->user_port = orig->port;
	return 1;
}

/* IPv6: the same maps with 16-byte addresses (as the context holds them: four network-order words). */
struct vip6_key {
	__u32 ip[4];
	__u16 port;
	__u8 proto;
	__u8 pad;
};
struct backend6 {
	__u32 ip[4];
	__u16 port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vip6_key);
	__type(value, struct vip_val);
} vips6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1048576);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct slot_key);
	__type(value, struct backend6);
} slots6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct backend6);
} revnat6 SEC(".maps");

SEC("cgroup/connect6")
int dcnet_connect6(struct bpf_sock_addr *ctx)
{
	__u64 ns = bpf_get_netns_cookie(ctx);
	if (ctx->protocol != 6 /* TCP */ || !bpf_map_lookup_elem(&netns, &ns))
		return 1;
	struct vip6_key k = {};
	k.ip[0] = ctx->user_ip6[0];
	k.ip[1] = ctx->user_ip6[1];
	k.ip[2] = ctx->user_ip6[2];
	k.ip[3] = ctx->user_ip6[3];
	k.port = (__u16)ctx->user_port;
	k.proto = (__u8)ctx->protocol;
	struct vip_val *v = bpf_map_lookup_elem(&vips6, &k);
	if (!v || v->slots == 0)
		return 1;
	struct slot_key s = {};
	s.id = v->id;
	s.slot = bpf_get_prandom_u32() % v->slots;
	struct backend6 *b = bpf_map_lookup_elem(&slots6, &s);
	if (!b)
		return 1;
	struct backend6 orig = {};
	orig.ip[0] = k.ip[0];
	orig.ip[1] = k.ip[1];
	orig.ip[2] = k.ip[2];
	orig.ip[3] = k.ip[3];
	orig.port = k.port;
	__u64 cookie = bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&revnat6, &cookie, &orig, BPF_ANY);
	ctx->user_ip6[0] = b->ip[0];
	ctx->user_ip6[1] = b->ip[1];
	ctx->user_ip6[2] = b->ip[2];
	ctx->user_ip6[3] = b->ip[3];
	ctx->user_port = b->port;
	return 1;
}

SEC("cgroup/getpeername6")
int dcnet_getpeername6(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct backend6 *orig = bpf_map_lookup_elem(&revnat6, &cookie);
	if (!orig)
		return 1;
	ctx->user_ip6[0] = orig->ip[0];
	ctx->user_ip6[1] = orig->ip[1];
	ctx->user_ip6[2] = orig->ip[2];
	ctx->user_ip6[3] = orig->ip[3];
	ctx->user_port = orig->port;
	return 1;
}

char _license[] SEC("license") = "GPL";
