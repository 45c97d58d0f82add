package gateway

import (
	"slices"
	"strconv"

	"github.com/semgate/semgate/providers/route"
)

// validateRouting checks an alias's routing options: the policy and its
// settings, and for the auto policy that every deployment has a tier and
// the thresholds split exactly the tiers there are.
func (m *ModelConfig) validateRouting(path string, ps *problems) {
	ps.addErr(path, m.PoolOptions.Validate())
	if m.Policy != route.PolicyAuto || m.Auto == nil {
		return
	}
	var tiers []int
	for j, d := range m.Deployments {
		if d.Tier == 0 {
			ps.add(path+".deployments["+strconv.Itoa(j)+"].tier", "required in an alias with policy auto (1 = cheapest)")
			continue
		}
		if !slices.Contains(tiers, d.Tier) {
			tiers = append(tiers, d.Tier)
		}
	}
	if len(tiers) > 0 && len(tiers) != len(m.Auto.Thresholds)+1 {
		ps.add(path+".auto.thresholds", "%d threshold(s) split %d tiers, but the deployments have %d distinct tiers",
			len(m.Auto.Thresholds), len(m.Auto.Thresholds)+1, len(tiers))
	}
}
