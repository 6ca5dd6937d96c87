package iambots

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/guardbots/guardbots/shared/bots"
	"github.com/guardbots/guardbots/shared/deployment"
	"github.com/guardbots/guardbots/shared/faults"
	"github.com/guardbots/guardbots/shared/finding"
)

// iam_deny_source_ip denies everything to the finding's role or user when a request comes from one of
// the finding's public remote addresses (aws:SourceIp). There is no aws:ViaAWSService exemption: a
// service acting on the principal's behalf (forward access sessions) keeps the caller's address, and
// so is denied too. Requests through a VPC endpoint carry no aws:SourceIp and are not covered; private
// addresses and the deployment's trusted networks are never denied. The statement carries its own end
// (aws:CurrentTime), so it lapses then even if nothing removes it.

// denySourceIPBot is the bot's name, in its messages and its declaration.
const denySourceIPBot = "iam_deny_source_ip"

// Parameter names and defaults of iam_deny_source_ip.
const (
	maxAddressesParam  = "maxAddresses"
	expireAfterParam   = "expireAfterHours"
	defaultExpireAfter = 24
)

func init() {
	bots.Register(bots.Bot{
		Name: denySourceIPBot,
		Summary: "Deny everything to the finding's role or user from the finding's public remote addresses (aws:SourceIp, " +
			"services acting on its behalf included), in an inline policy whose Sid names the finding and that ends by itself " +
			"(aws:CurrentTime) after expireAfterHours; private addresses and trusted networks are skipped with the reason, and " +
			"requests through VPC endpoints carry no address. Recorded in the state table; expired denies are removed on each write. " +
			"Identity Center roles: notify only, with the deny to apply. Never on protected, service-linked or guardbots' own roles.",
		Resources: []finding.ResourceKind{finding.KindAccessKey},
		// The session only scopes the advice on an Identity Center role to its user.
		Targets: []finding.TargetKind{finding.TargetIAMRole, finding.TargetIAMUser, finding.TargetSession},
		Params: []bots.Param{
			{Name: maxAddressesParam, Type: bots.TypeInt, Default: 5, Min: 1, Max: 50,
				Description: "Skip (with the reason) a finding with more public remote addresses than this."},
			{Name: expireAfterParam, Type: bots.TypeInt, Default: defaultExpireAfter, Min: 1, Max: 720,
				Description: "Hours after which the address deny ends (aws:CurrentTime) and is removed."},
			pruneOnlyParam,
		},
		Impact:     bots.ImpactDisruptive,
		Operations: principalOperations,
		Run: func(ctx context.Context, req bots.Request) (bots.Result, error) {
			trusted, err := parseNetworks(os.Getenv(deployment.EnvTrustedNetworks))
			if err != nil {
				return bots.Result{}, faults.Fail(fmt.Errorf("%s: %s: %w", denySourceIPBot, deployment.EnvTrustedNetworks, err))
			}
			return denySourceIP(ctx, iam.NewFromConfig(req.AWS), req, trusted)
		},
	})
}

// parseNetworks reads a comma-separated list of CIDRs (or single addresses).
func parseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR or an address", part)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// sharedAddressSpace is RFC 6598's carrier-grade NAT range: not an address on the internet.
var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")

// notPublic says why an address is not one to deny, or "".
func notPublic(a netip.Addr, trusted []netip.Prefix) string {
	switch {
	case a.IsPrivate(), sharedAddressSpace.Contains(a):
		return "private"
	case a.IsLoopback(), a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(), a.IsMulticast(), a.IsUnspecified():
		return "not a public unicast address"
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return "in the trusted network " + p.String()
		}
	}
	return ""
}

// publicAddresses are the finding's remote addresses to deny, as single-address CIDRs, and the notes on
// those left out.
func publicAddresses(f *finding.Finding, trusted []netip.Prefix) (cidrs, notes []string) {
	if f.Action == nil {
		return nil, nil
	}
	for _, r := range f.Action.RemoteIPs {
		a, err := netip.ParseAddr(r.Address)
		if err != nil {
			notes = append(notes, fmt.Sprintf("%q is not an IP address", r.Address))
			continue
		}
		a = a.Unmap()
		if why := notPublic(a, trusted); why != "" {
			notes = append(notes, fmt.Sprintf("%s is %s", a, why))
			continue
		}
		if c := netip.PrefixFrom(a, a.BitLen()).String(); !slices.Contains(cidrs, c) {
			cidrs = append(cidrs, c)
		}
	}
	return cidrs, notes
}

// addressStatement denies everything from the addresses until the deny's end.
func addressStatement(cidrs []string, until time.Time, extra map[string]any) denyStatement {
	s := denyStatement{Condition: map[string]map[string]any{
		"IpAddress":    {"aws:SourceIp": cidrs},
		"DateLessThan": {"aws:CurrentTime": iamTime(until)},
	}}
	if extra != nil {
		s.Condition["StringEquals"] = extra
	}
	return s
}

func denySourceIP(ctx context.Context, api iamPolicyAPI, req bots.Request, trusted []netip.Prefix) (bots.Result, error) {
	f := req.Finding
	now := denyClock().UTC().Truncate(time.Second)
	until := now.Add(time.Duration(req.Params.Int(expireAfterParam)) * time.Hour)
	cidrs, notes := publicAddresses(f, trusted)
	res, p, done, err := startDeny(ctx, api, denySourceIPBot, req, func(res bots.Result, p *principal) bots.Result {
		if len(cidrs) == 0 {
			return bots.SkipBecause(res, noAddressReason(notes))
		}
		// In a permission set the statement would apply to every user of it: keep it to this one.
		var lookup string
		var extra map[string]any
		if s := req.TargetsOf(finding.TargetSession); len(s) > 0 {
			extra, lookup = map[string]any{"identitystore:UserId": identityStoreUserID}, getUserIDCommand(s[0])
		}
		return identityCenterAdvice(res, p, addressDeny, f, addressStatement(cidrs, until, extra),
			fmt.Sprintf("deny requests from %s", strings.Join(cidrs, ", ")), until, lookup)
	})
	if err != nil || done {
		return res, err
	}
	if len(cidrs) == 0 {
		return bots.SkipBecause(res, noAddressReason(notes)), nil
	}
	if limit := req.Params.Int(maxAddressesParam); len(cidrs) > limit {
		return bots.SkipBecause(res, fmt.Sprintf("the finding names %d public addresses, more than %s %d: not a few attacker addresses to deny", len(cidrs), maxAddressesParam, limit)), nil
	}
	inv, err := readInventory(ctx, p)
	if err != nil {
		return bots.Result{}, fmt.Errorf("%s: %w", denySourceIPBot, err)
	}
	before := map[string]string{"addresses": "none"}
	want := slices.Clone(cidrs)
	if d, ok := inv.find(addressDeny, f.ID); ok && !d.expired(p, now) {
		before["addresses"] = strings.Join(d.addresses, " ")
		if !slices.ContainsFunc(cidrs, func(c string) bool { return !slices.Contains(d.addresses, c) }) {
			res.Status, res.Before = bots.StatusAlreadyDone, before
			res.Reason = fmt.Sprintf("requests from %s are already denied to %s until %s", strings.Join(cidrs, ", "), p, iamTime(d.until))
			res.Changes = notes
			return res, nil
		}
		// Seen again from more addresses: the earlier ones stay denied.
		for _, a := range d.addresses {
			if !slices.Contains(want, a) {
				want = append(want, a)
			}
		}
	}
	slices.Sort(want)
	res2, err := denyWrite{
		kind: addressDeny, stmt: addressStatement(want, until, nil), expires: until,
		what:   fmt.Sprintf("deny %s every request from %s", p, strings.Join(want, ", ")),
		before: before,
		after:  map[string]string{"addresses": strings.Join(want, " "), "expiresAt": iamTime(until)},
	}.write(ctx, req, res, p, inv, now)
	if err == nil {
		for _, n := range notes {
			res2.Changes = append(res2.Changes, "not denied: "+n)
		}
	}
	return res2, err
}

func noAddressReason(notes []string) string {
	if len(notes) == 0 {
		return "the finding names no remote address"
	}
	return "the finding names no public address to deny: " + strings.Join(notes, "; ")
}
