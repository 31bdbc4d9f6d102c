#!/bin/sh
# nfwatch example: packet/byte counters for ulogd2's NFACCT input.
#
# Why this is not in firewall.nft: ulogd2's NFACCT input plugin polls the
# kernel's *nfacct objects* (nfnetlink_acct, managed with the `nfacct` tool).
# nftables has no statement that updates an nfacct object; its own named
# counters (`counter name ...`, read with `nft -j list counters`) are a
# different kernel object that ulogd cannot see. The only way to feed nfacct
# objects is the xtables `nfacct` match, so we add it with iptables-nft /
# ip6tables-nft. Those rules live in nft's `table ip filter` / `table ip6 filter`
# (shown as `xt match "nfacct"` in `nft list ruleset`) next to the inet table
# of firewall.nft. They only count: the chains keep policy ACCEPT, the
# verdict comes from firewall.nft.
#
# Counters created (names are what nfwatch/Graphite will see as sum.name):
#   ipv4.http  ipv6.http   TCP destination port 80, INPUT
#   ipv4.ssh   ipv6.ssh    TCP destination port 22, INPUT
#
# Run as root, after (or before) `nft -f firewall.nft`. Re-running is safe.
# Requires the nfnetlink_acct and xt_nfacct kernel modules (auto-loaded).
set -eu

IPT=${IPTABLES:-iptables-nft}
IP6T=${IP6TABLES:-ip6tables-nft}

# 1. The accounting objects (ignore "File exists" when re-running).
for name in ipv4.http ipv6.http ipv4.ssh ipv6.ssh; do
	nfacct add "$name" 2>/dev/null || nfacct get "$name" >/dev/null
done

# 2. Rules that update them. `-C` checks first so we never add duplicates.
add_rule() { # add_rule <iptables-binary> <rule spec...>
	bin=$1; shift
	"$bin" -C "$@" 2>/dev/null || "$bin" -A "$@"
}
add_rule "$IPT"  INPUT -p tcp --dport 80 -m nfacct --nfacct-name ipv4.http
add_rule "$IPT"  INPUT -p tcp --dport 22 -m nfacct --nfacct-name ipv4.ssh
add_rule "$IP6T" INPUT -p tcp --dport 80 -m nfacct --nfacct-name ipv6.http
add_rule "$IP6T" INPUT -p tcp --dport 22 -m nfacct --nfacct-name ipv6.ssh
